package owncast

import (
	"context"
	"net/url"
	"time"

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
	ctx := context.Background()
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
	s.d.Webhooks.Dispatch(context.Background(), typ, map[string]any{"id": newEventID(), "timestamp": time.Now().UTC(),
		"name": st.Name, "summary": st.Summary, "streamTitle": st.StreamTitle, "status": s.statusForWebhook()})
}
