package ott

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/watch"
)

// OpenTogetherTube's close codes (OttWebsocketError).
const (
	closeAway           websocket.StatusCode = 1001
	closeUnknown        websocket.StatusCode = 4000
	closeInvalidURL     websocket.StatusCode = 4001
	closeRoomNotFound   websocket.StatusCode = 4002
	closeRoomUnloaded   websocket.StatusCode = 4003
	closeMissingToken   websocket.StatusCode = 4004
	closeKicked         websocket.StatusCode = 4005
	customNoticeSeconds                      = 5
)

// A room socket takes framesPerSec frames a second, burst framesBurst;
// past it frames are dropped (one notice per run of them). Each request
// fans out to the whole room, so one socket must not send without bound;
// OTT's own chatty-users load sends 20 a second per socket.
const (
	framesPerSec = 50
	framesBurst  = 100
)

var socketRoomName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

type clientMsg struct {
	Action  string          `json:"action"`
	Token   string          `json:"token"`
	Status  string          `json:"status"`
	Reason  *int            `json:"reason"`
	Message string          `json:"message"`
	Request json.RawMessage `json:"request"`
}

// socket is one room connection. It keeps what its requests need (the
// acting user and the token's hash), not the principal: the token alone is
// 684 bytes, the session and account records several hundred more, and an
// idle socket should cost a few KiB in all.
type socket struct {
	s         *Surface
	conn      connSender
	name      string
	tokenHash string
	ip        string // the rate-limit key of the upgrade request (an add costs what it does over REST)
	actor     watch.Actor
	// account is the account the socket acts as (actor's), read by the
	// revocation check on another goroutine.
	account atomic.Pointer[string]
	// linked is the Hearth session whose access token signed the token in
	// ("" for none): its sign-out, too, sends the socket to checkRevoked.
	linked atomic.Pointer[string]
	room   *watch.Room
	client string
	// frames is the socket's bucket (framesPerSec), dropping whether it
	// is over it; frames of one socket are handled one at a time.
	frames   ratelimit.Bucket
	dropping bool
}

// connSender is the part of gateway.Conn a socket uses.
type connSender interface {
	Send(msg []byte) bool
	Close(code websocket.StatusCode, reason string)
}

// serveSocket runs the room socket at /api/room/{name}: the first frame must
// be {"action":"auth","token"}; then the client joins in OTT's order.
func (s *Surface) serveSocket(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	conn, err := s.d.Hub.Accept(w, r, gatewayOptions())
	if err != nil {
		s.log.Debug("room socket upgrade failed", "err", err)
		return
	}
	// Serve returns at once: an idle room socket keeps no goroutine.
	if !socketRoomName.MatchString(name) {
		conn.Close(closeInvalidURL, "Invalid connection url")
		_ = conn.Serve(context.Background(), nil, nil)
		return
	}
	sk := &socket{s: s, conn: conn, name: name, ip: s.limitKey(r)}
	_ = conn.Serve(context.Background(), func(ctx context.Context, _ websocket.MessageType, data []byte) error {
		return sk.onMessage(ctx, data, func(pattern string, tr func(string, []byte) ([]byte, bool)) error {
			return conn.Subscribe(pattern, tr)
		})
	}, func(err error) {
		if sk.room != nil {
			sk.room.Leave(sk.client)
		}
		if err != nil {
			s.log.Debug("room socket ended", "err", err)
		}
	})
}

type subscribeFunc func(pattern string, tr func(string, []byte) ([]byte, bool)) error

func (sk *socket) onMessage(ctx context.Context, data []byte, subscribe subscribeFunc) error {
	if !sk.frames.Allow(sk.s.now(), framesPerSec, framesBurst) {
		if !sk.dropping {
			sk.dropping = true
			sk.notice("Too many messages: Hearth takes 50 a second from one connection.")
		}
		return nil
	}
	sk.dropping = false
	var m clientMsg
	if err := json.Unmarshal(data, &m); err != nil {
		sk.notice("Hearth could not read that message: it is not valid JSON.")
		return nil
	}
	if sk.room == nil {
		if m.Action != "auth" {
			return websocket.CloseError{Code: closeMissingToken, Reason: "Missing auth token"}
		}
		return sk.auth(ctx, m.Token, subscribe)
	}
	switch m.Action {
	case "auth":
		return nil
	case "status":
		return sk.request(ctx, watch.Request{Type: watch.ReqUpdateUser, Info: &watch.UserUpdateInfo{Status: m.Status}})
	case "kickme":
		code := closeUnknown
		if m.Reason != nil && ((*m.Reason >= 1000 && *m.Reason <= 1003) || (*m.Reason >= 3000 && *m.Reason <= 4999)) {
			code = websocket.StatusCode(*m.Reason)
		}
		return websocket.CloseError{Code: code, Reason: "kicked by request"}
	case "notify":
		if m.Message == "usernameChanged" {
			p, err := sk.s.lookupHash(ctx, sk.tokenHash)
			if err != nil {
				return websocket.CloseError{Code: closeMissingToken, Reason: "Missing token"}
			}
			sk.actor = actor(p)
			sk.setAccount(p)
			sk.room.RenameSession(sk.actor.SessionID, sk.actor)
		}
		return nil
	case "req":
		var wr wireRequest
		if err := json.Unmarshal(m.Request, &wr); err != nil {
			sk.notice("Hearth could not read that request: " + jsonProblem(err))
			return nil
		}
		req, err := wr.request()
		if err != nil {
			return sk.refused(req, err)
		}
		return sk.request(ctx, req)
	}
	sk.notice("Hearth does not know the action " + quoteShort(m.Action) + ".")
	return nil
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " has the wrong type."
	}
	return "it is not valid JSON."
}

func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// notice tells this client why its request was refused: an eventcustom,
// which OTT's client shows as a toast (OTT itself stays silent).
func (sk *socket) notice(text string) {
	b, _ := json.Marshal(map[string]any{"action": "eventcustom", "text": text, "duration": customNoticeSeconds * 1000})
	sk.conn.Send(b)
}

func (sk *socket) request(ctx context.Context, req watch.Request) error {
	if req.Type == watch.ReqJoin || req.Type == watch.ReqLeave {
		sk.notice("Join and leave requests are sent by the server.")
		return nil
	}
	// An add fetches each video's metadata, as over REST, so it costs the
	// same points from the same bucket (OTT charges only its REST route).
	if points := addCost(req); points > 0 && !sk.s.d.Limiter.Allow(sk.ip, points).Allowed {
		sk.notice("Too many requests.")
		return nil
	}
	// Its probes and fetches count against the address's share of the
	// media turns, as a REST add's.
	ctx = ratelimit.WithTurnKey(ctx, ratelimit.AddrTurnKey(sk.ip))
	return sk.refused(req, sk.s.d.Watch.Handle(ctx, sk.room, sk.actor, sk.client, req))
}

// refused answers a request the room refused: a notice to this client, or
// the close its error calls for.
func (sk *socket) refused(req watch.Request, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, watch.ErrRoomNotFound) || watch.CodeOf(err) == watch.CodeRoomNotFound {
		return websocket.CloseError{Code: closeRoomUnloaded, Reason: "Room unloaded"}
	}
	if fault.KindOf(err) == fault.Internal && !errors.Is(err, context.Canceled) {
		sk.s.log.Error("room request failed", "room", sk.name, "type", req.Type, "err", err)
		return websocket.CloseError{Code: closeUnknown, Reason: "Unknown error"}
	}
	sk.notice(fault.Message(err))
	return nil
}

func (sk *socket) auth(ctx context.Context, token string, subscribe subscribeFunc) error {
	if token == "" {
		return websocket.CloseError{Code: closeMissingToken, Reason: "Missing auth token"}
	}
	p, err := sk.s.lookup(ctx, token)
	if err != nil {
		return websocket.CloseError{Code: closeMissingToken, Reason: "Missing auth token"}
	}
	room, err := sk.s.d.Watch.Open(ctx, sk.name, actor(p))
	if err != nil {
		if errors.Is(err, watch.ErrRoomNotFound) || fault.KindOf(err) == fault.NotFound {
			return websocket.CloseError{Code: closeRoomNotFound, Reason: "Room not found"}
		}
		return websocket.CloseError{Code: closeUnknown, Reason: "Unknown error"}
	}
	sk.tokenHash, sk.actor, sk.room, sk.client = p.sess.TokenHash, actor(p), room, identity.NewID()
	// The room's topic strings are the encoder's, made once per room: the
	// socket keeps only its client id.
	enc := sk.s.encoderFor(room.Key())
	if err := subscribe(enc.pattern, sk.roomTransform(enc)); err != nil {
		return websocket.CloseError{Code: closeUnknown, Reason: "Unknown error"}
	}
	ann := sk.s.encoderFor("")
	if err := subscribe(watch.AnnouncementTopic, func(_ string, data []byte) ([]byte, bool) {
		out, _ := ann.encode(data)
		return out, out != nil
	}); err != nil {
		return websocket.CloseError{Code: closeUnknown, Reason: "Unknown error"}
	}
	sk.setAccount(p)
	if err := subscribe(identity.RevokedTopic, func(_ string, data []byte) ([]byte, bool) {
		acct, sess, ok := sk.s.revoked.of(data)
		if cur := *sk.account.Load(); ok && (acct != "" && acct == cur || sess != "" && sess == *sk.linked.Load()) {
			go sk.checkRevoked(cur)
		}
		return nil, false
	}); err != nil {
		return websocket.CloseError{Code: closeUnknown, Reason: "Unknown error"}
	}
	if err := room.Join(sk.actor, sk.client); err != nil {
		sk.room = nil
		switch {
		case watch.CodeOf(err) == watch.CodeBanned:
			return websocket.CloseError{Code: closeKicked, Reason: "You are banned from this room."}
		case errors.Is(err, watch.ErrRoomNotFound) || watch.CodeOf(err) == watch.CodeRoomNotFound:
			// Also from the room's node: the room is gone, or it belongs to
			// a channel the caller cannot see.
			return websocket.CloseError{Code: closeRoomNotFound, Reason: "Room not found"}
		}
		// The room is moving between nodes: come back shortly.
		return websocket.CloseError{Code: closeAway, Reason: "Room is moving; reconnect"}
	}
	if !p.loggedIn() {
		// A guest's token has nothing to be signed out of (a sign-in
		// meanwhile leaves the socket a guest until the client's
		// usernameChanged notify, as OTT's own sockets are).
		return nil
	}
	return sk.recheck(ctx, p.account.ID)
}

// recheck looks the token up again once the socket is in the room: a
// sign-in or sign-out of the token between the first look-up and the join
// renamed the session's members before this one was there, and a
// revocation before the subscription was not heard. The socket then acts
// as whoever the token is now, as its session's other sockets do; a token
// that no longer authenticates (its account disabled) closes it as a kick.
func (sk *socket) recheck(ctx context.Context, account string) error {
	p, err := sk.s.lookupHash(ctx, sk.tokenHash)
	switch {
	case err != nil && fault.KindOf(err) == fault.Unauthorized:
		return websocket.CloseError{Code: closeKicked, Reason: "Account disabled"}
	case err != nil:
		return websocket.CloseError{Code: closeUnknown, Reason: "Unknown error"}
	case p.account.ID != account:
		sk.actor = actor(p)
		sk.setAccount(p)
		sk.room.RenameSession(sk.actor.SessionID, sk.actor)
	}
	return nil
}

// roomTransform picks, out of every event of the room on the bus, those for
// this socket (the room's, this node's, its own) and gives the bytes its
// room's encoder made once for all sockets: nothing is allocated per
// delivery (BenchmarkRoomTransform).
func (sk *socket) roomTransform(enc *encoder) func(topic string, data []byte) ([]byte, bool) {
	client := sk.client
	return func(topic string, data []byte) ([]byte, bool) {
		mine := len(topic) == len(enc.clientPrefix)+len(client) && strings.HasPrefix(topic, enc.clientPrefix) && strings.HasSuffix(topic, client)
		if !mine && topic != enc.node && !strings.HasSuffix(topic, ".all") {
			return nil, false
		}
		out, close := enc.encode(data)
		if close != "" {
			sk.closeFor(close)
			return nil, false
		}
		return out, out != nil
	}
}

// setAccount records whom the socket acts as: the account, and the Hearth
// session whose access token signed its token in ("" for none), whose
// sign-out signs the token out.
func (sk *socket) setAccount(p *principal) {
	id, linked := p.account.ID, p.sess.SessionID
	sk.account.Store(&id)
	sk.linked.Store(&linked)
}

// checkRevoked runs when the account the socket acts as was revoked: a
// disabled account's socket is closed as a kick; one whose token no longer
// acts as that account (a password change signed it out) is closed as
// "going away", so the client reconnects as whoever its token is now.
func (sk *socket) checkRevoked(account string) {
	ctx, cancel := context.WithTimeout(sk.s.d.Life, 5*time.Second)
	defer cancel()
	if a, err := sk.s.d.Identity.Account(ctx, account); (err == nil && a.Disabled()) || errors.Is(err, fault.NotFound) {
		sk.conn.Close(closeKicked, "Account disabled")
		return
	}
	p, err := sk.s.lookupHash(ctx, sk.tokenHash)
	switch {
	case err != nil && fault.KindOf(err) == fault.Unauthorized:
		sk.conn.Close(closeKicked, "Account disabled")
	case err == nil && p.account.ID != account:
		sk.conn.Close(closeAway, "Signed out; reconnect")
	}
}

func (sk *socket) closeFor(why watch.CloseReason) {
	switch why {
	case watch.CloseKicked:
		sk.conn.Close(closeKicked, "Kicked")
	case watch.CloseBanned:
		sk.conn.Close(closeKicked, "Banned")
	case watch.CloseUnloaded:
		sk.conn.Close(closeRoomUnloaded, "Room unloaded")
	case watch.CloseNormal:
		sk.conn.Close(websocket.StatusNormalClosure, "")
	default:
		sk.conn.Close(closeAway, "Room moved; reconnect")
	}
}

// --- encoding room events to OTT messages -------------------------------

// encoder turns bus events into OTT messages. Every socket of a room on
// this node sees the same event bytes one after another on the bus
// subscription's goroutine, so the last encoding is kept and reused.
type encoder struct {
	// a room's topics (empty for the announcements' encoder)
	pattern, node, clientPrefix string

	mu      sync.Mutex
	lastPtr *byte
	lastLen int
	out     []byte
	close   watch.CloseReason
}

// revokedMemo decodes each identity revocation once per node, not once per
// subscribed socket: every socket's transform sees the same bus payload.
type revokedMemo struct {
	mu      sync.Mutex
	lastPtr *byte
	lastLen int
	account string
	session string
	ok      bool
}

// of returns the account and the session a revocation names.
func (m *revokedMemo) of(data []byte) (account, session string, ok bool) {
	if len(data) == 0 {
		return "", "", false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if unsafe.SliceData(data) != m.lastPtr || len(data) != m.lastLen {
		var rv identity.Revoked
		m.ok = json.Unmarshal(data, &rv) == nil
		m.account, m.session = "", ""
		if m.ok {
			m.account, m.session = rv.AccountID, rv.SessionID
		}
		m.lastPtr, m.lastLen = unsafe.SliceData(data), len(data)
	}
	return m.account, m.session, m.ok
}

func (s *Surface) encoderFor(key string) *encoder {
	if v, ok := s.encoders.Load(key); ok {
		return v.(*encoder)
	}
	e := &encoder{}
	if key != "" {
		e.pattern, e.node, e.clientPrefix = watch.RoomPattern(key), watch.NodeTopic(key, s.d.Watch.NodeID()), watch.ClientTopic(key, "")
	}
	v, _ := s.encoders.LoadOrStore(key, e)
	return v.(*encoder)
}

func (e *encoder) encode(data []byte) ([]byte, watch.CloseReason) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(data) > 0 && unsafe.SliceData(data) == e.lastPtr && len(data) == e.lastLen {
		return e.out, e.close
	}
	out, cl := encodeEvent(data)
	if len(data) > 0 {
		e.lastPtr, e.lastLen, e.out, e.close = unsafe.SliceData(data), len(data), out, cl
	}
	return out, cl
}

func encodeEvent(data []byte) ([]byte, watch.CloseReason) {
	ev, err := watch.DecodeEvent(data)
	if err != nil {
		return nil, ""
	}
	var msg any
	switch ev.Type {
	case watch.EvSync:
		if ev.Sync == nil {
			return nil, ""
		}
		out, err := syncOut(ev.Sync)
		if err != nil {
			return nil, ""
		}
		return out, ""
	case watch.EvEvent:
		if ev.Event == nil {
			return nil, ""
		}
		rec := eventRecordOut(*ev.Event)
		msg = map[string]any{"action": "event", "request": rec.Request, "user": rec.User, "additional": rec.Additional}
	case watch.EvChat:
		if ev.Chat == nil {
			return nil, ""
		}
		msg = map[string]any{"action": "chat", "from": wireUser(ev.Chat.From), "text": ev.Chat.Text}
	case watch.EvUser:
		if ev.User == nil {
			msg = map[string]any{"action": "user", "update": nil}
			break
		}
		msg = map[string]any{"action": "user", "update": userUpdateOut(ev.User)}
	case watch.EvYou:
		msg = map[string]any{"action": "you", "info": map[string]string{"id": ev.You}}
	case watch.EvAnnouncement:
		msg = map[string]any{"action": "announcement", "text": ev.Text}
	case watch.EvCustom:
		m := map[string]any{"action": "eventcustom", "text": ev.Text}
		if ev.Duration > 0 {
			m["duration"] = ev.Duration
		}
		msg = m
	case watch.EvClose:
		return nil, ev.Close
	default:
		return nil, ""
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, ""
	}
	return b, ""
}

func gatewayOptions() gateway.ConnOptions { return gateway.ConnOptions{} }

func isLikelyURL(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.Contains(s, "\n")
}

func itoa(n int) string { return strconv.Itoa(n) }
