package owncast

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/stagechat"
)

func parseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	return u.Host, nil
}

// statusForWebhook is the status object webhooks and /api/yp carry; the
// live part supplies it (ChatOptions.Status).
func (s *Surface) statusForWebhook() map[string]any {
	if s.d.Chats.Status != nil {
		return s.d.Chats.Status()
	}
	st := s.d.Chat.Settings()
	return map[string]any{"online": s.d.Chat.Presence().Online(), "streamTitle": st.StreamTitle,
		"versionNumber": s.d.Chats.Version, "viewerCount": 0, "overallMaxViewerCount": 0, "sessionMaxViewerCount": 0,
		"lastConnectTime": nil, "lastDisconnectTime": nil}
}

// chatWebhookData is a CHAT webhook's eventData.
func (s *Surface) chatWebhookData(ctx context.Context, m *messages.Message, u *stagechat.User, clientID uint64) map[string]any {
	out := map[string]any{"id": m.ID, "timestamp": m.CreatedAt, "user": encodeUser(u), "body": s.chat.render.Chat(m.Body),
		"rawBody": m.Body, "visible": !m.Hidden, "type": evChat}
	if clientID != 0 {
		out["clientId"] = clientID
	}
	return out
}

// ChatEventWebhooks turns a stage chat event (on the node where it
// happened) into webhook deliveries.
func (s *Surface) ChatEventWebhooks(ev stagechat.Event) {
	if s.d.Webhooks == nil {
		return
	}
	ctx := s.d.Life
	switch ev.Type {
	case stagechat.EventJoined, stagechat.EventParted:
		typ := evJoined
		if ev.Type == stagechat.EventParted {
			typ = evParted
		}
		for _, u := range ev.Users {
			s.d.Webhooks.Dispatch(ctx, typ, map[string]any{"id": newEventID(), "timestamp": ev.At, "type": typ, "user": encodeUser(u)})
		}
	case stagechat.EventNameChange:
		s.d.Webhooks.Dispatch(ctx, evNameChange, map[string]any{"id": ev.ID, "timestamp": ev.At, "type": evNameChange,
			"user": encodeUser(ev.User), "newName": ev.User.DisplayName})
	}
}

// StreamWebhook sends STREAM_STARTED or STREAM_STOPPED.
func (s *Surface) StreamWebhook(online bool) {
	if s.d.Webhooks == nil {
		return
	}
	typ := evStreamStopped
	if online {
		typ = evStreamStarted
	}
	st := s.d.Chat.Settings()
	s.d.Webhooks.Dispatch(s.d.Life, typ, map[string]any{"id": newEventID(), "timestamp": time.Now().UTC(),
		"name": st.Name, "summary": st.Summary, "streamTitle": st.StreamTitle, "status": s.statusForWebhook()})
}

// StageMessageWebhook turns a message event of the stage conversation (the
// bus topic messages.Topic(Chat.Conversation())) into a CHAT webhook when
// another surface posted it: the Together API or the web UI writing into a
// stage channel. Owncast's own routes send theirs directly, with the client
// id. Every node sees the event; the node that wins the claim queues it,
// the claim and the queue in one transaction, so each message is delivered
// once and a node that dies before queueing it leaves it to another.
func (s *Surface) StageMessageWebhook(data []byte) {
	if s.d.Webhooks == nil {
		return
	}
	var ev messages.Event
	if json.Unmarshal(data, &ev) != nil || ev.Type != messages.EventCreated || ev.Message == nil {
		return
	}
	m := ev.Message
	if m.ConversationID != s.d.Chat.Conversation() || m.AuthorID == nil || m.Hidden || m.Deleted ||
		stagechat.PostedByStage(m) {
		return
	}
	ctx, cancel := context.WithTimeout(s.d.Life, 10*time.Second)
	defer cancel()
	if !s.d.Webhooks.Subscribed(ctx, evChat) {
		return
	}
	u, err := s.d.Chat.CachedUser(ctx, *m.AuthorID)
	if errors.Is(err, fault.NotFound) {
		var a *identity.Account
		if a, err = s.d.Identity.Account(ctx, *m.AuthorID); err == nil {
			u, err = s.d.Chat.UserForAccount(ctx, a)
		}
	}
	if err != nil {
		s.log.Warn("chat webhook author", "message", m.ID, "err", err)
		return
	}
	// The claim and the deliveries are one transaction: a node that dies,
	// or fails, before they are stored leaves the message to another node.
	if _, err := s.d.Webhooks.DispatchOnce(ctx, "chat-webhook:"+m.ID, evChat, s.chatWebhookData(ctx, m, u, 0)); err != nil {
		s.log.Warn("queue chat webhook", "message", m.ID, "err", err)
	}
}
