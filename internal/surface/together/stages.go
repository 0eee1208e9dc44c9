package together

import (
	"context"
	"encoding/json"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
)

// StageChats lets a stage channel keep its messages in a live stage's chat
// (Hearth extension: an instance admin binds a stage channel to the
// default stage, whose chat is Owncast's). Nil: every channel keeps its
// own messages.
type StageChats interface {
	// ChatOf returns the conversation holding a stage channel's messages
	// and whether it is a stage chat (else it is the channel's own id).
	ChatOf(ctx context.Context, channelID string) (conversationID string, stage bool)
	// ChannelsOfChat lists the stage channels whose messages live in a
	// stage chat.
	ChannelsOfChat(ctx context.Context, conversationID string) []string
	// BindStage sets a stage channel's stage: "default" or "" (its own).
	BindStage(ctx context.Context, p *identity.Principal, channelID, stageID string) error
}

// conversation returns where a channel's messages are posted and read.
func (s *Surface) conversation(ctx context.Context, ch *community.Channel) (string, messages.Kind) {
	if s.d.StageChats != nil && ch.Kind == community.KindStage {
		if id, stage := s.d.StageChats.ChatOf(ctx, ch.ID); stage {
			return id, messages.KindStage
		}
	}
	return ch.ID, messages.KindChannel
}

// inChannel shows a message of a stage chat as one of the channel it is
// read through (a copy; channel messages are returned as they are).
func inChannel(m *messages.Message, channelID string) *messages.Message {
	if m.ConversationID == channelID {
		return m
	}
	c := *m
	c.ConversationID = channelID
	return &c
}

func inChannelAll(ms []*messages.Message, channelID string) []*messages.Message {
	out := make([]*messages.Message, len(ms))
	for i, m := range ms {
		out[i] = inChannel(m, channelID)
	}
	return out
}

// stageChannels returns the channels a stage-chat event is shown in.
func (s *Surface) stageChannels(ctx context.Context, conversationID string) []string {
	if s.d.StageChats == nil {
		return nil
	}
	return s.d.StageChats.ChannelsOfChat(ctx, conversationID)
}

// stageIDField tells an absent stage_id from a null one.
type stageIDField struct {
	set bool
	raw []byte
}

func (f *stageIDField) UnmarshalJSON(b []byte) error {
	f.set, f.raw = true, append([]byte(nil), b...)
	return nil
}

// stageRef reads the stage_id extension field: absent → nil (no change);
// null → "" (the channel's own stage); "default". Only instance admins may
// send it, on stage channels.
func (s *Surface) stageRef(p *identity.Principal, f stageIDField, kind string) (*string, error) {
	if !f.set {
		return nil, nil
	}
	if s.d.StageChats == nil {
		return nil, invalid("stage_id is not supported on this node")
	}
	if !p.Account.IsAdmin {
		return nil, fault.New(fault.Forbidden, "Only an instance admin can set stage_id")
	}
	if kind != community.KindStage {
		return nil, invalid("stage_id is only for stage channels")
	}
	var ref *string
	if err := json.Unmarshal(f.raw, &ref); err != nil {
		return nil, invalid(`stage_id must be "default" or null`)
	}
	if ref == nil {
		return new(string), nil
	}
	if *ref != "default" {
		return nil, invalid(`stage_id must be "default" or null`)
	}
	return ref, nil
}
