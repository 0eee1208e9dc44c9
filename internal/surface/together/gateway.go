package together

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/voice"
)

// Gateway limits, as Together's server applies them.
const (
	IdleTimeout   = 300 * time.Second
	MaxFrameBytes = 16 << 10
	FramesPerSec  = 20
	// PresenceUpdates bounds the PRESENCE_UPDATE frames an account's
	// sockets on a node act on, together, per minute (Discord paces them too):
	// each is a profile write and an event to everyone who shares a
	// server with it, and sockets per account have no bound of their own.
	// The rest are dropped, as over-rate frames are.
	PresenceUpdates = 5
	// TypingPerSec bounds the TYPING_START frames an account's sockets on a
	// node act on, together (burst five times that): each looks up the
	// channel's viewers and is an event to each (a client sends one every
	// few seconds while its user types).
	TypingPerSec = 2
	// VoiceStatesPerSec is how many voice-state changes (joins, mute and
	// video updates, Go Live starts; REST and the SFU's frames alike) an
	// account makes a second (burst five times that): each is a write and
	// an event to everyone who may view the channel, and an SFU join a new
	// peer connection.
	VoiceStatesPerSec = 5
	// SearchesPerAccount is how many message searches one account runs or
	// awaits at once on a node (past it 429 at once): the node's turns
	// (Deps.MaxSearches) are shared, and one account sending searches side
	// by side took them all, so every other member's search waited out
	// SearchWait and was refused.
	SearchesPerAccount = 2
	// JoinsPerSec is the app's Deps.JoinRate: how many servers an account
	// joins a second, by
	// POST /servers/{id}/join or an invite (burst ten times that): each
	// join is an event to every member and a webhook delivery, and leaving
	// again is free, so a join-and-leave loop reached every member of a
	// public server a thousand times a second. Leaving is never refused.
	JoinsPerSec = 1
	// SocketsPerAccount is the default of Deps.SocketsPerAccount (the
	// flag's): the node's sockets share one budget, which one account
	// could otherwise take whole. Tabs and devices need a few;
	// bench/together's idle mode opens 100 per user.
	SocketsPerAccount = 100
)

// dispatchTopic carries surface-originated events (typing, presence, voice)
// with their recipients, so every node delivers to its own sockets.
const dispatchTopic = "together.dispatch"

type envelope struct {
	Op string          `json:"op"`
	T  *string         `json:"t,omitempty"`
	D  json.RawMessage `json:"d,omitempty"`
}

// dispatch is a surface-originated event on dispatchTopic.
type dispatch struct {
	T          string          `json:"t"`
	D          json.RawMessage `json:"d"`
	Recipients []string        `json:"recipients,omitempty"`
	// Of, when set, names the account whose co-members receive the event
	// (PRESENCE_UPDATE): each node finds its own (presence_fanout.go).
	Of string `json:"of,omitempty"`
}

// client is one local gateway connection.
type client struct {
	ready     atomic.Bool // READY sent: events may follow
	conn      *gateway.Conn
	accountID string
	username  string
	sfu       atomic.Pointer[voice.Participant] // this socket's SFU session
	sfuJoins  atomic.Int64                      // VOICE_SFU joins received on this socket: the sessions' numbers

	mu     sync.Mutex
	frames ratelimit.Bucket // FramesPerSec
}

// allow is a 20 frames/s token bucket; excess frames are dropped.
func (c *client) allow(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames.Allow(now, FramesPerSec, FramesPerSec)
}

func frame(t string, d any) []byte {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil
	}
	out, _ := json.Marshal(envelope{Op: "DISPATCH", T: &t, D: raw})
	return out
}

var heartbeatAck = []byte(`{"op":"HEARTBEAT_ACK"}`)

func (s *Surface) serveGateway(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	auth := func() (*identity.Principal, error) {
		if tok := q.Get("token"); tok != "" {
			return s.d.Identity.Authenticate(ctx, tok)
		} else if bt := q.Get("bot_token"); bt != "" {
			return s.d.Identity.AuthenticateToken(ctx, identity.BotToken, bt)
		}
		return nil, errMissingAuth
	}
	p, err := auth()
	if err != nil {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	sid := p.SessionID
	if sid == "" && p.Token != nil {
		sid = p.Token.ID
	}
	conn, err := s.d.Hub.Accept(w, r, gateway.ConnOptions{AccountID: p.Account.ID, SessionID: sid, IdleTimeout: s.d.IdleTimeout, MaxPerAccount: s.d.SocketsPerAccount})
	if err != nil {
		return
	}
	// A sign-out, a disabled account or a revoked bot token between the
	// check above and the socket's registration closed nothing: the
	// revocation looked for the session's sockets before this one was among
	// them. So the token is checked again now that it is registered: a
	// revocation from here on finds the socket, and one before is seen.
	if _, err := auth(); err != nil {
		conn.Close(websocket.StatusPolicyViolation, "session revoked")
		_ = conn.Serve(context.WithoutCancel(s.bg), func(context.Context, websocket.MessageType, []byte) error { return nil }, func(error) {})
		return
	}
	// The connection counts for presence at once, but receives events only
	// after READY, which therefore shows the user online.
	c := &client{conn: conn, accountID: p.Account.ID, username: p.Account.Username}
	first := s.addClient(c)
	s.pres.Add(c.accountID)
	// Not derived from the request's context: an idle socket would keep the
	// request's and the HTTP connection's contexts (with their done
	// channels and values, several hundred bytes) for its whole life.
	bg := context.WithoutCancel(s.bg)
	if first {
		s.goOnline(c.accountID) // before READY, which then shows the account online
	}
	ready, err := s.ready(ctx, p.Account)
	if err != nil {
		s.log.Error("build READY", "err", err)
		conn.Close(websocket.StatusInternalError, "internal error")
	} else {
		s.sendReady(c, frame("READY", ready))
	}
	// Serve returns at once (an idle gateway socket keeps no goroutine):
	// the request's context, which ends with this handler, must not close
	// it.
	_ = conn.Serve(bg, func(ctx context.Context, typ websocket.MessageType, data []byte) error {
		// Together's gateway reads text frames only: a binary one is
		// ignored (and not counted against the frame rate).
		if typ == websocket.MessageText {
			s.onFrame(ctx, c, data)
		}
		return nil
	}, func(error) {
		last := s.removeClient(c)
		s.pres.Done(c.accountID)
		s.sfuClosed(c)
		if last {
			s.leaveVoice(bg, c.accountID)
			s.presenceChanged(c.accountID)
		}
	})
}

func (s *Surface) addClient(c *client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.accountID] = append(s.clients[c.accountID], c)
	return len(s.clients[c.accountID]) == 1
}

func (s *Surface) removeClient(c *client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.clients[c.accountID]
	if i := slices.Index(set, c); i >= 0 {
		set[i] = set[len(set)-1]
		set[len(set)-1] = nil
		set = set[:len(set)-1]
	}
	if len(set) == 0 {
		delete(s.clients, c.accountID)
		return true
	}
	s.clients[c.accountID] = set
	return false
}

// connections counts an account's local gateway connections.
func (s *Surface) connections(accountID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients[accountID])
}

// Connections counts local gateway connections.
func (s *Surface) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, set := range s.clients {
		n += len(set)
	}
	return n
}

// sendTo delivers one frame to every local connection of the accounts for
// which want returns true.
func (s *Surface) sendTo(msg []byte, want func(accountID string) bool) {
	if msg == nil {
		return
	}
	s.sendCollected(msg, func(conns []*gateway.Conn) []*gateway.Conn {
		for acct, set := range s.clients {
			if want(acct) {
				conns = appendReady(conns, set)
			}
		}
		return conns
	})
}

// sendCollected sends msg to the connections collect appends (under s.mu)
// to a pooled list, so a dispatch does not grow a new slice each time.
func (s *Surface) sendCollected(msg []byte, collect func([]*gateway.Conn) []*gateway.Conn) {
	box, _ := connsPool.Get().(*[]*gateway.Conn)
	if box == nil {
		box = new([]*gateway.Conn)
	}
	s.mu.Lock()
	conns := collect((*box)[:0])
	s.mu.Unlock()
	gateway.SendAll(conns, msg)
	clear(conns)
	*box = conns[:0]
	connsPool.Put(box)
}

// appendReady appends the connections of set that have had READY.
func appendReady(conns []*gateway.Conn, set []*client) []*gateway.Conn {
	for _, c := range set {
		if c.ready.Load() {
			conns = append(conns, c.conn)
		}
	}
	return conns
}

// connsPool holds sendCollected's recipient lists, so a dispatch does not grow a
// new slice to the number of sockets each time.
var connsPool sync.Pool

// sendReady writes READY and marks c ready under s.mu, which sendTo holds
// while it picks recipients: an event is either picked after READY went
// out (and follows it) or before c was ready (and is not sent). Reply may
// put READY on the wire at once, so marking c ready after the lock would
// let the client see READY and then miss the events of the gap.
func (s *Surface) sendReady(c *client, ready []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.conn.Reply(ready)
	if s.readySent != nil {
		s.readySent()
	}
	c.ready.Store(true)
}

func (s *Surface) hasClients() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients) > 0
}

// publishDispatch sends t/d to recipients on every node.
func (s *Surface) publishDispatch(ctx context.Context, t string, d any, recipients []string) {
	raw, err := json.Marshal(d)
	if err != nil {
		return
	}
	data, _ := json.Marshal(dispatch{T: t, D: raw, Recipients: recipients})
	if err := s.d.Bus.Publish(ctx, dispatchTopic, data); err != nil {
		s.log.Warn("publish dispatch", "err", err)
	}
}

func setOf(ids []string) func(string) bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return func(id string) bool { return m[id] }
}

// onBus turns domain events into Together DISPATCH frames for the local
// connections allowed to see them.
func (s *Surface) onBus(topic string, data []byte) {
	if id, ok := strings.CutPrefix(topic, "community."); ok && !strings.HasPrefix(id, "dm.") {
		s.forgetCommunity(id)
	}
	if topic == identity.RenamedTopic {
		s.forgetMembers() // an account renamed on any surface shows in member lists
		return
	}
	if topic == dispatchTopic {
		s.onDispatch(data)
		return
	}
	if !s.hasClients() {
		return
	}
	ctx, cancel := context.WithTimeout(s.bg, 5*time.Second)
	defer cancel()
	switch {
	case strings.HasPrefix(topic, messages.TopicPrefix):
		var e messages.Event
		if json.Unmarshal(data, &e) != nil || e.Message == nil {
			return
		}
		s.onMessageEvent(ctx, &e)
	case strings.HasPrefix(topic, "community.dm."):
		var e community.Event
		if json.Unmarshal(data, &e) != nil || e.DM == nil {
			return
		}
		for _, acct := range e.DM.Members {
			dto, err := s.dmDTO(ctx, e.DM, acct)
			if err != nil {
				continue
			}
			s.sendTo(frame("DM_CHANNEL_CREATE", dto), func(id string) bool { return id == acct })
		}
	default:
		var e community.Event
		if json.Unmarshal(data, &e) != nil {
			return
		}
		s.onCommunityEvent(ctx, &e)
	}
}

// onDispatch delivers a surface-originated event to its local recipients:
// those it names, or, for a presence update (Of set), the account's
// co-members, whose cached member lists it drops even with no socket here
// so the status is read afresh.
func (s *Surface) onDispatch(data []byte) {
	var d dispatch
	if json.Unmarshal(data, &d) != nil {
		return
	}
	t := d.T
	if d.Of != "" {
		ctx, cancel := context.WithTimeout(s.bg, 5*time.Second)
		defer cancel()
		var msg []byte
		if s.hasClients() {
			msg, _ = json.Marshal(envelope{Op: "DISPATCH", T: &t, D: d.D})
		}
		s.sendToCoMembers(ctx, d.Of, msg)
		return
	}
	if !s.hasClients() {
		return
	}
	msg, _ := json.Marshal(envelope{Op: "DISPATCH", T: &t, D: d.D})
	s.sendTo(msg, setOf(d.Recipients))
}

func (s *Surface) onMessageEvent(ctx context.Context, e *messages.Event) {
	m := e.Message
	switch e.Kind {
	case messages.KindDM:
		if e.Type != messages.EventCreated {
			return
		}
		d, err := s.d.Community.Store().DMChannel(ctx, m.ConversationID)
		if err != nil {
			return
		}
		s.sendTo(frame("DM_MESSAGE_CREATE", toDMMessage(m)), setOf(d.Members[:]))
		return
	case messages.KindChannel:
	case messages.KindStage:
		// A stage's chat shown in the stage channels bound to it.
		for _, ch := range s.stageChannels(ctx, m.ConversationID) {
			c := *e
			c.Message, c.Kind = inChannel(m, ch), messages.KindChannel
			s.onMessageEvent(ctx, &c)
		}
		return
	default:
		return
	}
	var msg []byte
	switch e.Type {
	case messages.EventCreated:
		t := "MESSAGE_CREATE"
		if m.ThreadID != nil {
			t = "THREAD_MESSAGE_CREATE"
		}
		msg = frame(t, s.render1(ctx, "", m))
	case messages.EventUpdated:
		msg = frame("MESSAGE_UPDATE", s.render1(ctx, "", m))
	case messages.EventDeleted:
		msg = frame("MESSAGE_DELETE", map[string]string{"id": m.ID, "channel_id": m.ConversationID})
	case messages.EventVisibility:
		if m.Hidden {
			msg = frame("MESSAGE_DELETE", map[string]string{"id": m.ID, "channel_id": m.ConversationID})
		} else {
			msg = frame("MESSAGE_CREATE", s.render1(ctx, "", m))
		}
	case messages.EventPinned:
		msg = frame("MESSAGE_PIN", map[string]any{"message_id": m.ID, "channel_id": m.ConversationID, "pinned_by": m.PinnedBy})
	case messages.EventUnpinned:
		msg = frame("MESSAGE_UNPIN", map[string]any{"message_id": m.ID, "channel_id": m.ConversationID})
	case messages.EventReactionAdd, messages.EventReactionRemove:
		if e.Reaction == nil {
			return
		}
		t := "REACTION_ADD"
		if e.Type == messages.EventReactionRemove {
			t = "REACTION_REMOVE"
		}
		msg = frame(t, map[string]string{"message_id": m.ID, "channel_id": m.ConversationID, "user_id": e.Reaction.AccountID, "emoji": e.Reaction.Emoji})
	default:
		return
	}
	s.sendToViewers(ctx, m.ConversationID, msg)
}

// sendToViewers delivers to members who may view the channel (Together
// sends every server event to every member; Hearth filters by permission).
func (s *Surface) sendToViewers(ctx context.Context, channelID string, msg []byte) {
	viewers, err := s.viewers(ctx, channelID)
	if err != nil {
		return
	}
	s.sendTo(msg, func(id string) bool { return canView(viewers, id) })
}

func (s *Surface) onCommunityEvent(ctx context.Context, e *community.Event) {
	sid := e.CommunityID
	var t string
	var d any
	switch e.Type {
	case community.EvChannelCreated, community.EvChannelUpdated:
		if e.Channel == nil {
			return
		}
		t = "CHANNEL_CREATE"
		if e.Type == community.EvChannelUpdated {
			t = "CHANNEL_UPDATE"
		}
		s.sendToViewers(ctx, e.Channel.ID, frame(t, toChannel(e.Channel)))
		return
	case community.EvChannelDeleted:
		t, d = "CHANNEL_DELETE", map[string]string{"id": e.Channel.ID, "server_id": sid}
	case community.EvCommunityDeleted:
		// To its members as they were (the event's recipients; the
		// membership rows are gone): a client with the community open
		// learns it is gone instead of staying on it.
		t, d = "SERVER_DELETE", map[string]string{"id": sid, "server_id": sid}
	case community.EvMemberJoined:
		name := ""
		if a, err := s.d.Identity.Account(ctx, e.AccountID); err == nil {
			name = a.Username
		}
		t, d = "MEMBER_JOIN", map[string]string{"server_id": sid, "user_id": e.AccountID, "username": name}
	case community.EvMemberLeft:
		t, d = "MEMBER_LEAVE", map[string]string{"server_id": sid, "user_id": e.AccountID}
	case community.EvMemberKicked:
		t, d = "MEMBER_KICK", map[string]any{"server_id": sid, "user_id": e.AccountID, "actor_id": e.ActorID, "reason": e.Reason}
	case community.EvMemberBanned:
		t, d = "MEMBER_BAN", map[string]any{"server_id": sid, "user_id": e.AccountID, "actor_id": e.ActorID, "reason": e.Reason}
	case community.EvMemberUnbanned:
		t, d = "MEMBER_UNBAN", map[string]any{"server_id": sid, "user_id": e.AccountID, "actor_id": e.ActorID}
	case community.EvMemberTimeout:
		mins := 0
		if e.Until != nil {
			mins = int(time.Until(*e.Until).Round(time.Minute).Minutes())
		}
		t, d = "MEMBER_TIMEOUT", map[string]any{"server_id": sid, "user_id": e.AccountID, "actor_id": e.ActorID,
			"expires_at": e.Until, "duration_minutes": mins, "reason": e.Reason}
	case community.EvMemberTimeoutEnded:
		t, d = "MEMBER_TIMEOUT_REMOVE", map[string]any{"server_id": sid, "user_id": e.AccountID, "actor_id": e.ActorID}
	case community.EvRoleCreated, community.EvRoleUpdated:
		t = "ROLE_CREATE"
		if e.Type == community.EvRoleUpdated {
			t = "ROLE_UPDATE"
		}
		d = toRole(e.Role)
	case community.EvRoleDeleted:
		t, d = "ROLE_DELETE", map[string]string{"server_id": sid, "role_id": e.RoleID}
	case community.EvMemberRoleAdded, community.EvMemberRoleRemoved:
		t = "MEMBER_ROLE_ADD"
		if e.Type == community.EvMemberRoleRemoved {
			t = "MEMBER_ROLE_REMOVE"
		}
		m := map[string]any{"server_id": sid, "user_id": e.AccountID, "role_id": e.RoleID, "role_name": "", "role_color": nil}
		if ro, err := s.d.Community.Store().Role(ctx, e.RoleID); err == nil {
			m["role_name"], m["role_color"] = ro.Name, ro.Color
		}
		d = m
	case community.EvOverrideUpdated:
		t, d = "CHANNEL_OVERRIDE_UPDATE", toOverride(e.Override)
	case community.EvOverrideDeleted:
		t, d = "CHANNEL_OVERRIDE_DELETE", map[string]string{"channel_id": e.Override.ChannelID, "override_id": e.Override.ID}
	case community.EvInviteCreated, community.EvInviteDeleted:
		// Only to those who may list the invites (CREATE_INVITES, as GET
		// /servers/:id/invites): Together sends every member the code,
		// which let any member of an invite-only server bring anyone in.
		t, d = "INVITE_CREATE", toInvite(e.Invite)
		if e.Type == community.EvInviteDeleted {
			t, d = "INVITE_DELETE", map[string]string{"server_id": sid, "invite_id": e.Invite.ID}
		}
		ids, err := s.d.Community.MembersWith(ctx, sid, community.PermCreateInvites)
		if err != nil {
			s.log.Warn("invite event: read who may see invites", "server", sid, "err", err)
			return
		}
		s.sendTo(frame(t, d), setOf(ids))
		return
	case community.EvAutomodAction:
		if e.Automod == nil {
			return
		}
		a := e.Automod
		// The automod log's live entry, for whoever may read the log
		// (GET /servers/:id/automod/logs: the owner only). It names the
		// matched term of the owner-only word list, the member and the
		// channel, which may be hidden from the others.
		c, err := s.d.Community.Store().Community(ctx, sid)
		if err != nil {
			return
		}
		s.sendTo(frame("AUTOMOD_ACTION", map[string]any{"server_id": sid, "channel_id": a.ChannelID, "user_id": a.UserID,
			"username": a.Username, "rule_type": a.RuleType, "action_taken": a.ActionTaken, "matched_term": a.MatchedTerm}),
			setOf([]string{c.OwnerID}))
		return
	default:
		return
	}
	members, err := s.d.Community.Store().Members(ctx, sid)
	if err != nil && len(e.Recipients) == 0 {
		return
	}
	ids := append([]string{}, e.Recipients...)
	for _, m := range members {
		ids = append(ids, m.AccountID)
	}
	s.sendTo(frame(t, d), setOf(ids))
}

// ready builds READY's seven keys.
func (s *Surface) ready(ctx context.Context, a *identity.Account) (map[string]any, error) {
	user, err := s.userDTO(ctx, a)
	if err != nil {
		return nil, err
	}
	// Every server with its roles, overrides and the channels a.ID may
	// view, in four queries however many servers (one to six per server
	// before, and an account is in up to community.MaxServersJoined).
	ls, err := s.d.Community.CommunityListings(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	servers := make([]serverDTO, len(ls))
	roles := map[string][]roleDTO{}
	overrides := map[string][]overrideDTO{}
	var convs []string
	for i, l := range ls {
		c := l.Community
		// Together's READY carries its raw server rows, without
		// member_count; its web client takes them as ServerDtos (which
		// have it) and shows the count in server settings, so Hearth sends
		// the whole ServerDto.
		servers[i] = toServer(c)
		list := make([]roleDTO, len(l.Roles))
		for j, r := range l.Roles {
			list[j] = toRole(r)
		}
		sort.SliceStable(list, func(x, y int) bool { return list[x].Position > list[y].Position })
		roles[c.ID] = list
		for _, o := range l.Overrides {
			overrides[o.ChannelID] = append(overrides[o.ChannelID], toOverride(o))
		}
		for _, ch := range l.Channels {
			if ch.Kind == community.KindText {
				convs = append(convs, ch.ID)
			}
		}
	}
	dms, err := s.dmList(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for _, d := range dms {
		convs = append(convs, d.ID)
	}
	unread, err := s.d.Messages.Unread(ctx, a.ID, convs)
	if err != nil {
		return nil, err
	}
	type unreadDTO struct {
		ChannelID   string `json:"channel_id"`
		UnreadCount int    `json:"unread_count"`
	}
	type mentionDTO struct {
		ChannelID string `json:"channel_id"`
		Count     int    `json:"count"`
	}
	unreads, mentions := []unreadDTO{}, []mentionDTO{}
	for _, u := range unread {
		if u.Unread > 0 {
			unreads = append(unreads, unreadDTO{u.ConversationID, u.Unread})
		}
		if u.Mentions > 0 {
			mentions = append(mentions, mentionDTO{u.ConversationID, u.Mentions})
		}
	}
	return map[string]any{"user": user, "servers": servers, "dm_channels": dms, "unread_counts": unreads,
		"mention_counts": mentions, "server_roles": roles, "channel_overrides": overrides}, nil
}

// onFrame handles one client text frame: HEARTBEAT, PRESENCE_UPDATE,
// TYPING_START, VOICE_SIGNAL and Hearth's VOICE_SFU. Unparseable or over-rate frames are dropped.
func (s *Surface) onFrame(ctx context.Context, c *client, data []byte) {
	if !c.allow(time.Now()) {
		return
	}
	fr, ok := parseFrame(data)
	if !ok {
		return
	}
	switch fr.Op {
	case "HEARTBEAT":
		c.conn.Reply(heartbeatAck)
	case "PRESENCE_UPDATE":
		s.presenceUpdate(c.accountID, fr.Presence)
	case "TYPING_START":
		if !s.typingRL.Allow(c.accountID, 1).Allowed {
			return
		}
		in := fr.Typing
		ca, err := s.d.Community.ChannelAccess(ctx, c.accountID, in.ChannelID)
		if err != nil || ca.MayView() != nil || ca.MayCommunicate() != nil {
			return // a timed-out member's typing is dropped as a hidden channel's
		}
		viewers, err := s.viewers(ctx, in.ChannelID)
		if err != nil {
			return
		}
		var ids []string
		for id := range viewers {
			if canView(viewers, id) && id != c.accountID {
				ids = append(ids, id)
			}
		}
		s.publishDispatch(ctx, "TYPING_START", map[string]any{"user_id": c.accountID, "username": c.username,
			"channel_id": in.ChannelID, "timestamp": time.Now().UTC().Format(time.RFC3339Nano)}, ids)
	case "VOICE_SIGNAL":
		s.relaySignal(ctx, c, fr.D)
	case "VOICE_SFU":
		s.onSFU(ctx, c, fr.D)
	}
}

// presenceUpdate applies an account's PRESENCE_UPDATE within its pace
// (PresenceUpdates a minute across its sockets on this node). One past the
// pace is not dropped but held, replacing any held before it, and applied
// when the pace allows: the account's last word is always its presence,
// however fast its client clicked, and the writes and events stay paced.
func (s *Surface) presenceUpdate(accountID string, in presenceIn) {
	s.pacePresence(accountID, in, nil)
}

// pacePresence is presenceUpdate for a presence either still to store
// (saved nil: a PRESENCE_UPDATE frame) or stored already (saved: the
// profile PATCH /users/@me wrote), whose announcement alone is then
// paced: REST profile updates announced it at any rate (900 a second
// from one account), each an event to everyone sharing a server with it.
// A held one is stored again when applied, which changes nothing.
func (s *Surface) pacePresence(accountID string, in presenceIn, saved *community.Profile) {
	s.heldMu.Lock()
	if _, waiting := s.presHeld[accountID]; waiting {
		s.presHeld[accountID] = in
		s.heldMu.Unlock()
		return
	}
	if !s.presRL.Allow(accountID, 1).Allowed {
		if s.presHeld == nil {
			s.presHeld = map[string]presenceIn{}
		}
		s.presHeld[accountID] = in
		s.heldMu.Unlock()
		time.AfterFunc(heldPresenceRetry, func() { s.applyHeldPresence(accountID) })
		return
	}
	s.heldMu.Unlock()
	if saved != nil {
		s.publishPresence(s.bg, accountID, saved)
		return
	}
	s.applyPresence(s.bg, accountID, in)
}

// heldPresenceRetry is how often a held PRESENCE_UPDATE asks the pace
// again (one bucket check a second per account holding one).
const heldPresenceRetry = time.Second

// applyHeldPresence applies the presence held for an account, or holds it
// again while the pace still refuses it.
func (s *Surface) applyHeldPresence(accountID string) {
	if s.bg.Err() != nil {
		return
	}
	s.heldMu.Lock()
	in, ok := s.presHeld[accountID]
	if !ok {
		s.heldMu.Unlock()
		return
	}
	if !s.presRL.Allow(accountID, 1).Allowed {
		s.heldMu.Unlock()
		time.AfterFunc(heldPresenceRetry, func() { s.applyHeldPresence(accountID) })
		return
	}
	delete(s.presHeld, accountID)
	s.heldMu.Unlock()
	s.applyPresence(s.bg, accountID, in)
}

// applyPresence stores an account's presence and announces it.
func (s *Surface) applyPresence(ctx context.Context, accountID string, in presenceIn) {
	p, err := s.d.Community.Profile(ctx, accountID)
	if err != nil {
		return
	}
	p.Status, p.CustomStatus, p.Activity = in.Status, emptyToNil(in.CustomStatus), emptyToNil(in.Activity)
	if s.d.Community.SaveProfile(ctx, p, community.ProfileStatus|community.ProfileCustomStatus|community.ProfileActivity) == nil {
		s.publishPresence(ctx, accountID, p)
	}
}

// presenceIn is a PRESENCE_UPDATE frame's data.
type presenceIn struct {
	Status       string  `json:"status"`
	CustomStatus *string `json:"custom_status"`
	Activity     *string `json:"activity"`
}

// typingIn is a TYPING_START frame's data.
type typingIn struct {
	ChannelID string `json:"channel_id"`
}

// clientFrame is one decoded client frame: Op and the data of that op.
type clientFrame struct {
	Op       string
	Presence presenceIn
	Typing   typingIn
	D        json.RawMessage // VOICE_SIGNAL: relaySignal decodes it
}

// parseFrame decodes a client frame, reporting false for anything the
// gateway drops: not JSON, an op it does not take, or data that breaks the
// op's rules (an unknown status, over-long custom status or activity).
func parseFrame(data []byte) (clientFrame, bool) {
	var env envelope
	if json.Unmarshal(data, &env) != nil {
		return clientFrame{}, false
	}
	fr := clientFrame{Op: env.Op, D: env.D}
	switch env.Op {
	case "HEARTBEAT", "VOICE_SIGNAL", "VOICE_SFU":
	case "PRESENCE_UPDATE":
		// Read as Together reads it: no data (or null) is nothing to do;
		// otherwise a status that is absent or not a string is "online",
		// and a custom status or activity that is not a string is none
		// (a bot's {"activity": "…"} alone sets it and shows it online).
		if len(env.D) == 0 || string(env.D) == "null" {
			return clientFrame{}, false
		}
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(env.D, &fields) // not an object: every field absent
		in := &fr.Presence
		in.Status = "online"
		if v := jsonString(fields["status"]); v != nil {
			in.Status = *v
		}
		in.CustomStatus, in.Activity = jsonString(fields["custom_status"]), jsonString(fields["activity"])
		switch in.Status {
		case "online", "away", "dnd", "offline":
		default:
			return clientFrame{}, false
		}
		if checkOpt("custom_status", in.CustomStatus, 128) != nil || checkOpt("activity", in.Activity, 128) != nil {
			return clientFrame{}, false
		}
	case "TYPING_START":
		if json.Unmarshal(env.D, &fr.Typing) != nil {
			return clientFrame{}, false
		}
	default:
		return clientFrame{}, false
	}
	return fr, true
}

// jsonString is raw's value when raw is a JSON string, else nil.
func jsonString(raw json.RawMessage) *string {
	var v string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return &v
}

// publishPresence announces an account's presence to its co-members on
// every node; the bus message names the account, and each node finds the
// recipients among its own sockets (presence_fanout.go).
func (s *Surface) publishPresence(ctx context.Context, accountID string, p *community.Profile) {
	raw, err := json.Marshal(presenceOut{UserID: accountID, Status: p.Status, CustomStatus: p.CustomStatus, Activity: p.Activity})
	if err != nil {
		return
	}
	data, _ := json.Marshal(dispatch{T: "PRESENCE_UPDATE", D: raw, Of: accountID})
	if err := s.d.Bus.Publish(ctx, dispatchTopic, data); err != nil {
		s.log.Warn("publish presence", "err", err)
	}
}

// presenceOut is PRESENCE_UPDATE's data, in the key order
// map[string]any gave it (sorted).
type presenceOut struct {
	Activity     *string `json:"activity"`
	CustomStatus *string `json:"custom_status"`
	Status       string  `json:"status"`
	UserID       string  `json:"user_id"`
}

// goOnline marks an account online when its first connection anywhere in
// the cluster opens, clearing its custom status and activity as Together
// does on connect. A new tab while another is open (on any node) changes
// nothing.
func (s *Surface) goOnline(accountID string) {
	s.presMu.Lock()
	defer s.presMu.Unlock()
	if s.pres.Local(accountID) == 0 || s.pres.Count(accountID) > s.pres.Local(accountID) {
		return
	}
	s.setPresence(accountID, true, false)
}

// presenceChanged runs when an account's connection count across the
// cluster may have crossed zero: the presence tracker calls it on every
// node, and the gateway when its own last connection for the account
// closes. Offline is announced only after OfflineGrace with still no
// connection anywhere, so a reload does not flap and a tab opened on
// another node a moment before is counted; the write is conditional, so
// exactly one node announces it. A count that went back above zero while
// the account is stored offline (a node's news arrived late) repairs it to
// online, also exactly once.
func (s *Surface) presenceChanged(accountID string) {
	s.presMu.Lock()
	if s.pres == nil { // still in New
		s.presMu.Unlock()
		return
	}
	n := s.pres.Count(accountID)
	if n > 0 {
		s.setPresence(accountID, true, true)
		s.presMu.Unlock()
		return
	}
	s.presMu.Unlock()
	time.AfterFunc(s.d.OfflineGrace, func() {
		s.presMu.Lock()
		gone := s.bg.Err() == nil && s.pres.Count(accountID) == 0
		if gone {
			s.setPresence(accountID, false, false)
		}
		s.presMu.Unlock()
		if gone {
			// An account connected nowhere is in no call. Its node drops
			// the voice state when the last socket there closes; a node
			// killed with its sockets open never does, and the survivors
			// (or the next start) learn it only here: without this the
			// member stayed in the channel's voice states for good.
			// Every node may run it; the one whose delete finds the
			// state announces the leave (voice.Calls). Likewise its
			// go-live sessions.
			if s.d.Voice != nil {
				s.d.Calls.Disconnected(s.bg, accountID)
			}
		}
	})
}

// sweepPresence marks offline, once, every account still stored online with
// no connection anywhere: what a whole-cluster restart, or a node that died
// before the others learnt of its connections, leaves behind. It waits
// until the presence snapshots of every running node have arrived.
func (s *Surface) sweepPresence(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(s.d.PresenceSweep):
	}
	ids, err := s.d.Community.PresentAccounts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("presence sweep failed", "err", err)
		}
		return
	}
	// Voice states and go-live sessions too: an account in a call when
	// its node died may be stored offline (invisible), so not among the
	// above.
	if s.d.Voice != nil {
		voiced, err := s.d.Voice.VoiceAccounts(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("voice sweep failed", "err", err)
			}
		}
		ids = append(ids, voiced...)
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if s.pres.Count(id) == 0 {
			s.presenceChanged(id)
		}
	}
}

func (s *Surface) setPresence(accountID string, online, repair bool) {
	changed, p, err := s.d.Community.SetPresence(s.bg, accountID, online, repair)
	if err != nil {
		if s.bg.Err() == nil {
			s.log.Warn("presence write failed", "err", err)
		}
		return
	}
	if changed {
		s.publishPresence(s.bg, accountID, p)
	}
}
