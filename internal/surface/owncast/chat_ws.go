package owncast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// frame builds one outbound event.
func frame(typ string, fields map[string]any) []byte {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["type"] = typ
	if _, ok := fields["id"]; !ok {
		fields["id"] = identity.NewID()
	}
	if _, ok := fields["timestamp"]; !ok {
		fields["timestamp"] = time.Now().UTC()
	}
	b, _ := json.Marshal(fields)
	return b
}

func (s *Surface) userInfo(u *stagechat.User) []byte {
	return frame(evUserInfo, map[string]any{"user": encodeUser(u)})
}

func (s *Surface) actionFrame(body string) []byte {
	return frame(evAction, map[string]any{"body": s.chat.render.Chat(body)})
}

// handleSocket is GET /ws?accessToken=…: Owncast's chat socket.
func (s *Surface) handleSocket(w http.ResponseWriter, r *http.Request) {
	if s.d.Hub == nil {
		http.Error(w, "chat unavailable", http.StatusServiceUnavailable)
		return
	}
	if s.d.Chat.Settings().ChatDisabled {
		http.Error(w, "CHAT_DISABLED", http.StatusForbidden)
		return
	}
	ip := s.clientIP(r)
	// The IP ban and the token are checked in one store query.
	banned, u, session, authErr, err := s.d.Chat.Admit(r.Context(), ip, r.URL.Query().Get("accessToken"))
	if err != nil {
		writeError(w, err)
		return
	} else if banned {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if max := s.d.Chats.MaxConnections; max > 0 && s.chat.count() >= max {
		http.Error(w, "ERROR_MAX_CONNECTIONS_EXCEEDED", http.StatusServiceUnavailable)
		return
	}
	// A signed-in account's token is tagged with the session it was taken
	// with: signing that session out closes the socket (the token is gone,
	// so the client's reconnect is told to register again).
	conn, err := s.d.Hub.Accept(w, r, gateway.ConnOptions{SessionID: session, Codec: gateway.NewlineBatch{MaxFrameBytes: 64 << 10}})
	if err != nil {
		return
	}
	// Serve returns at once: an idle chat socket keeps no goroutine; what
	// the handler would defer runs in onClose.
	switch {
	case authErr != nil:
		if fault.KindOf(authErr) == fault.Unauthorized || errors.Is(authErr, fault.NotFound) {
			conn.Send(frame(evNeedsRegister, nil))
			conn.Close(websocket.StatusPolicyViolation, "needs registration")
		} else {
			conn.Close(websocket.StatusInternalError, "internal error")
		}
		_ = conn.Serve(context.Background(), nil, nil)
		return
	case u.Disabled():
		conn.Send(frame(evUserDisabled, map[string]any{"user": nil}))
		conn.Close(websocket.StatusPolicyViolation, "user disabled")
		_ = conn.Serve(context.Background(), nil, nil)
		return
	}
	c := &client{id: s.chat.nextID.Add(1), conn: conn, ip: ip, userAgent: r.UserAgent(), connectedAt: time.Now().UTC(),
		token: r.URL.Query().Get("accessToken")}
	c.user.Store(u)
	// The account's revocations first (a password change deletes its chat
	// tokens: revokedTransform looks the token up again)...
	if err := conn.Subscribe(identity.RevokedTopic, s.revokedTransform(c)); err != nil {
		conn.Close(websocket.StatusInternalError, "subscribe failed")
	}
	// ...then a signed-in account's token signed out (a logout) between
	// Admit and Accept, looked for before this socket could be found by
	// its session, is checked again, before the socket listens to the chat
	// (so no line can be queued for it): a sign-out before is seen here,
	// one after finds the socket. (Guests' tokens are never signed out;
	// they skip the query.)
	if session != "" {
		if _, err := s.d.Chat.Authenticate(r.Context(), c.token); errors.Is(err, stagechat.ErrBadToken) || errors.Is(err, fault.NotFound) {
			conn.Send(frame(evNeedsRegister, nil))
			conn.Close(websocket.StatusPolicyViolation, "needs registration")
			_ = conn.Serve(context.Background(), nil, nil)
			return
		}
	}
	s.chat.add(c)
	if err := conn.Subscribe(messages.Topic(s.d.Chat.Conversation()), s.messageTransform()); err != nil {
		conn.Close(websocket.StatusInternalError, "subscribe failed")
	}
	if err := conn.Subscribe(s.d.Chat.Topic(), s.chatTransform(c)); err != nil {
		conn.Close(websocket.StatusInternalError, "subscribe failed")
	}
	// A ban of the address made between Admit and the subscriptions above
	// announced its EventIPBanned before this socket listened: it is looked
	// for again now (one made after reaches chatTransform).
	if banned, err := s.d.Chat.IPBanned(r.Context(), ip); err != nil || banned {
		s.chat.remove(c)
		if err != nil {
			s.log.Error("chat socket: ban check", "err", err)
			conn.Close(websocket.StatusInternalError, "internal error")
		} else {
			conn.Close(websocket.StatusPolicyViolation, "banned")
		}
		_ = conn.Serve(context.Background(), nil, nil)
		return
	}
	conn.Send(s.userInfo(u))
	pres := s.d.Chat.Presence()
	pres.Connect(u)
	var welcome *time.Timer
	if msg := s.d.Chat.Settings().WelcomeMessage; msg != "" {
		welcome = time.AfterFunc(s.d.Chats.WelcomeDelay, func() {
			set := s.d.Chat.Settings()
			if set.WelcomeMessage != "" {
				conn.Send(frame(evSystem, map[string]any{"body": s.chat.render.Chat(set.WelcomeMessage),
					"user": map[string]any{"displayName": set.Name}}))
			}
		})
	}
	flood := stagechat.NewFlood(s.d.Chats.FloodRate, s.d.Chats.FloodBlock)
	_ = conn.Serve(context.Background(), func(ctx context.Context, typ websocket.MessageType, data []byte) error {
		s.onChatFrame(ctx, c, flood, data)
		return nil
	}, func(error) {
		if welcome != nil {
			welcome.Stop()
		}
		pres.Disconnect(c.user.Load())
		s.chat.remove(c)
	})
}

// revokedTransform watches the identity revocations for the socket's
// account: when its sessions are revoked (a password change, which also
// deletes its chat tokens), the socket's token is looked up again and a
// socket whose token no longer acts as that user is told to register again
// and closed, as one opened with an unknown token is.
func (s *Surface) revokedTransform(c *client) func(string, []byte) ([]byte, bool) {
	return func(_ string, data []byte) ([]byte, bool) {
		id := c.user.Load().ID
		if !bytes.Contains(data, []byte(`"account_id":"`+id+`"`)) {
			return nil, false
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			u, err := s.d.Chat.Authenticate(ctx, c.token)
			if err == nil && u.ID == c.user.Load().ID {
				return
			}
			if err != nil && !errors.Is(err, stagechat.ErrBadToken) && !errors.Is(err, fault.NotFound) {
				s.log.Warn("chat socket: token check after a revocation", "err", err)
				return
			}
			c.conn.Send(frame(evNeedsRegister, nil))
			c.conn.Close(websocket.StatusPolicyViolation, "needs registration")
		}()
		return nil, false
	}
}

type inbound struct {
	Type     string `json:"type"`
	Body     string `json:"body"`
	NewName  string `json:"newName"`
	NewColor *int   `json:"newColor"`
}

func (s *Surface) onChatFrame(ctx context.Context, c *client, flood *stagechat.Flood, data []byte) {
	u := c.user.Load()
	if c.disabled.Load() {
		return
	}
	if len(data) > MaxSocketPayload {
		c.conn.Send(s.actionFrame("Sorry, that message is too long and was not sent."))
		return
	}
	if !u.IsModerator() && s.d.Chat.Settings().ChatSpamProtection {
		switch flood.Check(time.Now()) {
		case stagechat.Blocked:
			return
		case stagechat.Flooded:
			c.conn.Send(s.actionFrame(stagechat.FloodNotice))
			return
		}
	}
	var ev inbound
	if err := json.Unmarshal(data, &ev); err != nil {
		return
	}
	switch ev.Type {
	case evChat:
		m, err := s.d.Chat.Send(ctx, u, ev.Body)
		var fe *fault.Error
		switch {
		case errors.Is(err, stagechat.ErrFlooded) && errors.As(err, &fe):
			// The account's pace (every writer into the chat, this
			// node's other sockets and Together included) is spent:
			// the socket is told as its own limit tells it, and drops
			// its input while the account is blocked.
			c.conn.Send(s.actionFrame(stagechat.FloodNotice))
			flood.Hold(time.Now().Add(fe.RetryAfter))
		case errors.Is(err, stagechat.ErrNotEstablished), errors.Is(err, stagechat.ErrNotAuthenticated),
			errors.Is(err, community.ErrTimedOut):
			// Told, as Owncast tells the modes' refusals; a member timed
			// out in a community whose stage channel shows this chat
			// hears "User is timed out", Together's words.
			c.conn.Send(s.actionFrame(fault.Message(err)))
		case err != nil:
			if fault.KindOf(err) == fault.Invalid {
				c.conn.Send(s.actionFrame(fault.Message(worded(err))))
			}
		case m != nil:
			c.messages.Add(1)
			if s.d.Webhooks != nil {
				s.d.Webhooks.Dispatch(ctx, evChat, s.chatWebhookData(ctx, m, u, c.id))
			}
		}
	case evNameChange:
		nu, _, err := s.d.Chat.ChangeName(ctx, u, ev.NewName)
		// Echo the name as it would have been stored, never the raw text.
		shown := identity.CleanName(ev.NewName, stagechat.MaxNameLength)
		switch {
		case errors.Is(err, stagechat.ErrNameEmpty):
			c.conn.Send(s.actionFrame(fault.Message(err)))
			c.conn.Send(s.userInfo(u))
		case errors.Is(err, stagechat.ErrNameTaken):
			c.conn.Send(s.actionFrame("The name **" + shown + "** has been already registered. If this is your name, please authenticate."))
		case err != nil:
			c.conn.Send(s.actionFrame("You cannot change your name to **" + shown + "**."))
		default:
			c.user.Store(nu)
			c.conn.Send(s.userInfo(nu))
		}
	case evColorChange:
		if ev.NewColor == nil {
			return
		}
		// The user's sockets, this one included, get the new
		// CONNECTED_USER_INFO from the chat's user-updated event (the
		// transform's EventUserUpdated); sent here as well, this socket
		// had it twice, where Owncast sends it once.
		if nu, err := s.d.Chat.ChangeColor(ctx, u, *ev.NewColor); err == nil {
			c.user.Store(nu)
		}
	}
}

// memo computes a value once per bus event for every connection it fans
// out to: the hub hands the same data slice to each subscriber in turn.
type memo[T any] struct {
	mu  sync.Mutex
	key *byte
	n   int
	val T
}

func (m *memo[T]) get(data []byte, f func() T) T {
	if len(data) == 0 {
		return f()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key == &data[0] && m.n == len(data) {
		return m.val
	}
	m.val = f()
	m.key, m.n = &data[0], len(data)
	return m.val
}

// encoded is a frame, or nothing for this event.
type encoded struct {
	b  []byte
	ok bool
}

// decodedChat is a chat event plus its encoding for everyone.
type decodedChat struct {
	ev  *stagechat.Event
	all encoded
}

// messageTransform encodes message-store events (shared by every socket).
func (s *Surface) messageTransform() gateway.Transform {
	return func(_ string, data []byte) ([]byte, bool) {
		e := s.chat.msgMemo.get(data, func() encoded {
			b, ok := s.encodeMessageEvent(data)
			return encoded{b, ok}
		})
		return e.b, e.ok
	}
}

func (s *Surface) encodeMessageEvent(data []byte) ([]byte, bool) {
	var ev messages.Event
	if json.Unmarshal(data, &ev) != nil || ev.Message == nil {
		return nil, false
	}
	m := ev.Message
	switch ev.Type {
	case messages.EventCreated:
		if m.Hidden || m.Deleted {
			return nil, false
		}
		f := s.messageJSON(s.d.Life, m, true)
		b, _ := json.Marshal(f)
		return b, true
	case messages.EventVisibility, messages.EventDeleted:
		return frame(evVisibility, map[string]any{"ids": []string{m.ID}, "visible": !m.Hidden && !m.Deleted}), true
	}
	return nil, false
}

// chatTransform encodes the chat's own events for one socket.
func (s *Surface) chatTransform(c *client) gateway.Transform {
	return func(_ string, data []byte) ([]byte, bool) {
		d := s.chat.chatMemo.get(data, func() decodedChat {
			var ev stagechat.Event
			if json.Unmarshal(data, &ev) != nil {
				return decodedChat{}
			}
			b, ok := s.encodeChatEvent(&ev)
			return decodedChat{ev: &ev, all: encoded{b, ok}}
		})
		if d.ev == nil {
			return nil, false
		}
		ev := d.ev
		mine := ev.User != nil && ev.User.ID == c.user.Load().ID
		switch ev.Type {
		case stagechat.EventUserDisabled:
			if !mine {
				return nil, false
			}
			first := s.disableClient(c)
			if !c.ipBanned.Load() {
				// Disabled on another node: ban this connection's
				// address here (not on the delivery path).
				go func() {
					ctx, cancel := context.WithTimeout(s.d.Life, 10*time.Second)
					defer cancel()
					s.banClientIPs(ctx, []*client{c}, ev.User.DisplayName)
				}()
			}
			if !first {
				// AccountDisabled told this socket already: Owncast
				// sends each connection one ERROR_USER_DISABLED.
				return nil, false
			}
			return frame(evUserDisabled, map[string]any{"id": ev.ID, "timestamp": ev.At, "user": nil}), true
		case stagechat.EventIPBanned:
			if stagechat.BanCovers(ev.IP, c.ip) {
				c.conn.Close(websocket.StatusPolicyViolation, "banned")
			}
			return nil, false
		case stagechat.EventUserUpdated:
			if !mine {
				return nil, false
			}
			c.user.Store(ev.User)
			return s.userInfo(ev.User), true
		case stagechat.EventNameChange:
			if mine {
				c.user.Store(ev.User)
			}
		}
		return d.all.b, d.all.ok
	}
}

func (s *Surface) encodeChatEvent(ev *stagechat.Event) ([]byte, bool) {
	switch ev.Type {
	case stagechat.EventJoined, stagechat.EventParted:
		typ := evJoined
		if ev.Type == stagechat.EventParted {
			typ = evParted
		}
		var out []byte
		for i, u := range ev.Users {
			if i > 0 {
				out = append(out, '\n')
			}
			out = append(out, frame(typ, map[string]any{"user": encodeUser(u), "timestamp": ev.At})...)
		}
		return out, len(out) > 0
	case stagechat.EventNameChange:
		return frame(evNameChange, map[string]any{"id": ev.ID, "timestamp": ev.At, "user": encodeUser(ev.User), "oldName": ev.OldName}), true
	case stagechat.EventAction:
		return frame(evAction, map[string]any{"id": ev.ID, "timestamp": ev.At, "body": s.chat.render.Chat(ev.Body)}), true
	case stagechat.EventStream:
		body := "The stream is ending."
		if ev.Online {
			body = "Stay tuned, the stream is **starting**!"
		}
		return frame(evAction, map[string]any{"id": ev.ID, "timestamp": ev.At, "body": s.chat.render.Chat(body)}), true
	}
	return nil, false
}

// disableClient closes a disabled user's socket after the grace period
// (the ERROR_USER_DISABLED frame goes first). It reports whether this call
// disabled it: only that caller sends the socket its ERROR_USER_DISABLED.
func (s *Surface) disableClient(c *client) bool {
	if c.disabled.Swap(true) {
		return false
	}
	time.AfterFunc(s.d.Chats.DisableGrace, func() { c.conn.Close(websocket.StatusPolicyViolation, "user disabled") })
	return true
}

// AccountDisabled tells the chat sockets of an account disabled elsewhere
// (any surface) that they are disabled, then closes them.
func (s *Surface) AccountDisabled(accountID string) {
	if s.chat == nil {
		return
	}
	for _, c := range s.chat.ofUser(accountID) {
		if s.disableClient(c) {
			c.conn.Send(frame(evUserDisabled, map[string]any{"user": nil}))
		}
	}
}
