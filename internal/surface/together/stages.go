package together

import (
	"context"
	"encoding/json"

	"github.com/hearth-community/hearth/internal/community"
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
	// MayBindStage says whether p may bind a channel of kind to ref
	// ("default", or nil for its own stage), before anything is written.
	MayBindStage(p *identity.Principal, kind string, ref *string) error
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

// stageRef reads the stage_id extension field for a channel of kind:
// absent → nil (no change); null → "" (the channel's own stage); a string
// → it. Whether p may set it, on such a channel, to that, is the live
// domain's (StageChats.MayBindStage), asked before anything is written.
func (s *Surface) stageRef(p *identity.Principal, f stageIDField, kind string) (*string, error) {
	if !f.set {
		return nil, nil
	}
	if s.d.StageChats == nil {
		return nil, invalid("stage_id is not supported on this node")
	}
	var ref *string
	if json.Unmarshal(f.raw, &ref) != nil {
		// Neither a string nor null (a number, an object): its JSON
		// text, which names no stage, for the domain to refuse.
		raw := string(f.raw)
		ref = &raw
	}
	if err := s.d.StageChats.MayBindStage(p, kind, ref); err != nil {
		return nil, err
	}
	if ref == nil {
		return new(string), nil
	}
	return ref, nil
}
