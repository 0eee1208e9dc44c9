package watch

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hearth-community/hearth/internal/fault"
)

// Actor is who makes a request: an account, the session it came through,
// the name shown, and whether the account is registered.
type Actor struct {
	AccountID string
	SessionID string
	Name      string
	LoggedIn  bool
	// System is Hearth itself acting on a room as its owner (the room
	// behind a community watch channel that was renamed or deleted);
	// surfaces never set it from what a client sends.
	System bool
}

type member struct {
	Actor
	clientID string
	status   string
}

// Room is one loaded watch room. Its state changes only under mu; every
// change is published on the bus while mu is held, so events keep order.
type Room struct {
	svc    *Service
	key    string
	remote string // owner node when this is a proxy for a room running elsewhere

	mu          sync.Mutex
	name        string
	title       string
	description string
	visibility  Visibility
	queueMode   QueueMode
	temporary   bool
	ownerID     string
	channel     string // the community channel the room belongs to, or ""
	grants      Grants
	userRoles   map[string]Role
	bans        map[string]bool
	autoSkip    []string
	restore     int
	voteSkip    bool
	queue       []Video
	current     *Video
	clock       Clock
	prevQueue   []Video
	// undoable are the videos recent skips and removes took out, with the
	// position a skip left (newest last, at most maxUndoable): an undo
	// puts back the room's own copy, never the video a client sends.
	undoable    []undone
	votes       map[string]map[string]bool // video key → account ids
	skipVotes   map[string]string          // account id → client id
	members     []*member
	dirty       Fields
	syncTimer   *time.Timer
	savePending bool // listed for the service's next batched save
	lastSeen    time.Time
	createdAt   time.Time
	unloaded    bool
	// gen is the generation of the row this copy runs (Record.Gen): its
	// saves are refused once the room was loaded again. version is the
	// last save it encoded (Record.Version).
	gen, version int64

	// SponsorBlock: the segments of the current video (segFor is its key),
	// whether they were asked for, and the end of a segment someone seeked
	// into (it plays instead of being skipped).
	segments      []Segment
	segFor        string
	segWanted     bool
	dontSkipUntil *float64
}

// Name is the room's name as created.
func (r *Room) Name() string { return r.name }

// Key is the room's lower-case name, used in topics.
func (r *Room) Key() string { return r.key }

func (r *Room) now() time.Time { return r.svc.now() }

// roleOf resolves an account's role in the room. Caller holds mu.
func (r *Room) roleOf(a Actor) Role {
	switch {
	case a.System, a.AccountID != "" && a.AccountID == r.ownerID:
		return RoleOwner
	case a.LoggedIn:
		if ro, ok := r.userRoles[a.AccountID]; ok {
			return ro
		}
		return RoleRegistered
	}
	return RoleUnregistered
}

// banned reports whether a's account is barred from the room (a kick with
// ban). Caller holds r.mu.
func (r *Room) banned(a Actor) bool { return a.AccountID != "" && r.bans[a.AccountID] }

func (r *Room) info(m *member) UserInfo {
	st := m.status
	if st == "" {
		st = "none"
	}
	return UserInfo{ID: m.clientID, Name: m.Name, IsLoggedIn: m.LoggedIn, Status: st, Role: r.roleOf(m.Actor)}
}

func (r *Room) memberByClient(id string) *member {
	for _, m := range r.members {
		if m.clientID == id {
			return m
		}
	}
	return nil
}

// actorFor is who a request from clientID acts as: the room's member for
// that connection, renamed when its session signed in or out, over a (who
// the caller was when it connected). Requests with no connection (REST)
// act as a.
func (r *Room) actorFor(a Actor, clientID string) Actor {
	if clientID == "" {
		return a
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.memberByClient(clientID); m != nil {
		return m.Actor
	}
	return a
}

// --- publishing -----------------------------------------------------------

func (r *Room) publish(ev Event)             { r.svc.publish(RoomTopic(r.key), ev) }
func (r *Room) publishTo(c string, ev Event) { r.svc.publish(ClientTopic(r.key, c), ev) }

func (r *Room) markDirty(f Fields) {
	r.dirty |= f
	if f&(FieldCurrent|FieldAutoSkip) != 0 {
		r.segmentsFollowCurrent()
	}
	if r.syncTimer == nil && !r.unloaded {
		r.syncTimer = time.AfterFunc(r.svc.cfg.SyncDelay, r.flushSync)
	}
}

// flushSync publishes the debounced delta.
func (r *Room) flushSync() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.syncTimer = nil
	if r.unloaded || r.dirty == 0 {
		return
	}
	f := r.dirty
	r.dirty = 0
	r.publish(Event{Type: EvSync, Sync: r.syncOf(f)})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// FullSync returns the room's whole state (for a joining client or a REST GET).
func (r *Room) FullSync() *Sync {
	if r.remote != "" {
		p, _ := r.svc.callBG(r, rpcReq{Op: "fullsync"})
		return p.Sync
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.syncOf(AllFields)
}

// Snapshot is a room's state for REST answers.
type Snapshot struct {
	Name, Title, Description string
	Visibility               Visibility
	QueueMode                QueueMode
	IsTemporary              bool
	Current                  *Video
	Queue                    []Video
	Users                    []UserInfo
	Grants                   Grants
	AutoSkip                 []string
	Restore                  int
	VoteSkip                 bool
	HasOwner                 bool
	OwnerID                  string
	Accounts                 int // distinct accounts connected
}

// Describe returns the room's current state, or why it cannot (the node
// running the room did not answer).
func (r *Room) Describe(ctx context.Context) (Snapshot, error) {
	if r.remote != "" {
		p, err := r.svc.call(ctx, r, rpcReq{Op: "snapshot"})
		if err != nil {
			return Snapshot{}, err
		}
		if p.Snap == nil {
			return Snapshot{}, fault.New(fault.Unavailable, "the room's node sent no state")
		}
		return *p.Snap, nil
	}
	return r.Snapshot(), nil
}

// Snapshot returns the room's current state.
func (r *Room) Snapshot() Snapshot {
	if r.remote != "" {
		p, err := r.svc.callBG(r, rpcReq{Op: "snapshot"})
		if err != nil || p.Snap == nil {
			return Snapshot{Name: r.name, Grants: DefaultGrants()}
		}
		return *p.Snap
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{Name: r.name, Title: r.title, Description: r.description, Visibility: r.visibility,
		QueueMode: r.queueMode, IsTemporary: r.temporary, Current: r.current, Queue: slices.Clone(nonNil(r.queue)),
		Grants: r.grants, AutoSkip: slices.Clone(nonNil(r.autoSkip)), Restore: r.restore, VoteSkip: r.voteSkip,
		HasOwner: r.ownerID != "", OwnerID: r.ownerID, Users: make([]UserInfo, 0, len(r.members))}
	seen := map[string]bool{}
	for _, m := range r.members {
		s.Users = append(s.Users, r.info(m))
		seen[m.AccountID] = true
	}
	s.Accounts = len(seen)
	return s
}

// --- membership -----------------------------------------------------------

// Join adds a connection to the room, in OpenTogetherTube's order: a full
// sync to the newcomer, the join event, a position sync and a user update
// to everyone, then the user list and the newcomer's id to the newcomer.
// The caller must already be subscribed to RoomPattern.
func (r *Room) Join(a Actor, clientID string) error {
	if r.remote != "" {
		_, err := r.svc.callBG(r, rpcReq{Op: "join", Actor: a, Client: clientID})
		return err
	}
	ctx, cancel := context.WithTimeout(r.svc.life(), 5*time.Second)
	err := r.svc.authorize(ctx, r, a)
	cancel()
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unloaded {
		return ErrRoomNotFound
	}
	if r.banned(a) {
		return ErrBanned
	}
	m := &member{Actor: a, clientID: clientID, status: "none"}
	r.publishTo(clientID, Event{Type: EvSync, Sync: r.syncOf(AllFields)})
	r.members = append(r.members, m)
	r.lastSeen = r.now()
	ui := r.info(m)
	r.publish(Event{Type: EvEvent, Event: &EventRecord{Request: Request{Type: ReqJoin, Info: &UserUpdateInfo{ID: clientID, Name: a.Name, Status: "none"}}, User: ui}})
	r.publish(Event{Type: EvSync, Sync: r.syncOf(FieldPosition)})
	r.publish(Event{Type: EvUser, User: &UserUpdate{Kind: UsersUpdate, User: &ui}})
	r.publishTo(clientID, Event{Type: EvUser, User: &UserUpdate{Kind: UsersInit, Users: r.usersLocked()}})
	r.publishTo(clientID, Event{Type: EvYou, You: clientID})
	return nil
}

func (r *Room) usersLocked() []UserInfo {
	out := make([]UserInfo, 0, len(r.members))
	for _, m := range r.members {
		out = append(out, r.info(m))
	}
	return out
}

// Leave removes a connection: a leave event, then a user removal. The
// account's votes go when its last connection leaves.
func (r *Room) Leave(clientID string) {
	if r.remote != "" {
		_, _ = r.svc.callBG(r, rpcReq{Op: "leave", Client: clientID})
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.members, func(m *member) bool { return m.clientID == clientID })
	if i < 0 {
		return
	}
	m := r.members[i]
	r.members = slices.Delete(r.members, i, i+1)
	r.lastSeen = r.now()
	if r.unloaded {
		return
	}
	ui := r.info(m)
	r.publish(Event{Type: EvEvent, Event: &EventRecord{Request: Request{Type: ReqLeave}, User: ui, Additional: Additional{User: &ui}}})
	r.publish(Event{Type: EvUser, User: &UserUpdate{Kind: UsersRemove, ClientID: clientID}})
	if !r.accountPresent(m.AccountID) {
		changed := false
		for _, set := range r.votes {
			if set[m.AccountID] {
				delete(set, m.AccountID)
				changed = true
			}
		}
		if changed {
			r.markDirty(FieldVoteCounts)
		}
		if _, ok := r.skipVotes[m.AccountID]; ok {
			delete(r.skipVotes, m.AccountID)
			r.markDirty(FieldSkipVotes)
		}
	} else if c, ok := r.skipVotes[m.AccountID]; ok && c == clientID {
		// Keep the vote, shown under one of the account's other tabs.
		for _, o := range r.members {
			if o.AccountID == m.AccountID {
				r.skipVotes[m.AccountID] = o.clientID
				break
			}
		}
		r.markDirty(FieldSkipVotes)
	}
}

func (r *Room) accountPresent(id string) bool {
	for _, m := range r.members {
		if m.AccountID == id {
			return true
		}
	}
	return false
}

// ClientBySession reports whether a connection of the session is in the room and
// returns its client id.
func (r *Room) ClientBySession(sessionID string) (string, bool) {
	if r.remote != "" {
		p, err := r.svc.callBG(r, rpcReq{Op: "bysession", Session: sessionID})
		return p.Client, err == nil && p.OK
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.members {
		if m.SessionID == sessionID {
			return m.clientID, true
		}
	}
	return "", false
}

// RenameSession updates the shown name and login state of every connection
// of a session (after a rename, login or logout) and broadcasts the change.
func (r *Room) RenameSession(sessionID string, a Actor) {
	if r.remote != "" {
		_, _ = r.svc.callBG(r, rpcReq{Op: "rename", Session: sessionID, Actor: a})
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.members {
		if m.SessionID == sessionID {
			m.Actor = Actor{AccountID: a.AccountID, SessionID: sessionID, Name: a.Name, LoggedIn: a.LoggedIn}
			r.publish(Event{Type: EvUser, User: updated(r.info(m))})
		}
	}
}

// RenameAccount shows an account's new name on every connection of the
// account in this room (the account was renamed on any surface). A room
// served by another node is left to that node, which hears the same
// event.
func (r *Room) RenameAccount(accountID, name string) {
	if r.remote != "" || accountID == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.members {
		if m.AccountID == accountID && m.Name != name {
			m.Name = name
			r.publish(Event{Type: EvUser, User: updated(r.info(m))})
		}
	}
}

// Users returns the connected users.
func (r *Room) Users() []UserInfo {
	if r.remote != "" {
		p, _ := r.svc.callBG(r, rpcReq{Op: "users"})
		return p.Users
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.usersLocked()
}

// Len is the number of connections.
func (r *Room) Len() int {
	if r.remote != "" {
		p, _ := r.svc.callBG(r, rpcReq{Op: "len"})
		return p.Len
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// Custom sends an eventcustom-style notice to one connection.
func (r *Room) Custom(clientID, text string, d time.Duration) {
	if r.remote != "" {
		_, _ = r.svc.callBG(r, rpcReq{Op: "custom", Client: clientID, Text: text, Dur: int64(d)})
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.publishTo(clientID, Event{Type: EvCustom, Text: text, Duration: int(d.Milliseconds())})
}

// --- queue ----------------------------------------------------------------

func (r *Room) queued(ref VideoRef) int {
	return slices.IndexFunc(r.queue, func(v Video) bool { return v.Same(ref) })
}

// MaxQueue is how many videos a room's queue holds, and MaxAdd how many
// one request adds. OTT bounds neither, and a queue travels whole in each
// sync and save; an add's metadata is fetched per video.
const (
	MaxQueue = 1000
	MaxAdd   = 100
)

// ErrQueueFull refuses what would take a queue past MaxQueue.
var ErrQueueFull = newErr(fault.Invalid, CodeInvalid, fmt.Sprintf("The queue is full: a room holds at most %d videos.", MaxQueue))

// roomFor answers ErrQueueFull unless the queue has room for n more.
func (r *Room) roomFor(n int) error {
	if len(r.queue)+n > MaxQueue {
		return ErrQueueFull
	}
	return nil
}

func (r *Room) isQueuedOrCurrent(ref VideoRef) bool {
	return r.queued(ref) >= 0 || (r.current != nil && r.current.Same(ref))
}

// dequeueNext advances the queue according to the queue mode.
func (r *Room) dequeueNext() {
	now := r.now()
	// Every dequeue ends the vote to skip, a dj-mode restart too (as OTT).
	if len(r.skipVotes) > 0 {
		clear(r.skipVotes)
		r.markDirty(FieldSkipVotes)
	}
	if r.queueMode == QueueDJ && r.current != nil {
		v := r.current.trimmed()
		r.current = &v
		r.clock.Seek(0, now)
		r.markDirty(FieldCurrent | FieldPosition)
		return
	}
	if r.queueMode == QueueLoop && r.current != nil {
		r.queue = append(r.queue, r.current.trimmed())
	}
	if len(r.queue) == 0 {
		r.current = nil
		r.clock = Clock{Speed: r.clock.speed(), Since: now}
		r.markDirty(FieldCurrent | FieldPlaying | FieldPosition | FieldQueue)
	} else {
		v := r.queue[0]
		r.queue = slices.Delete(r.queue, 0, 1)
		r.current = &v
		start := 0.0
		if v.StartAt != nil {
			start = *v.StartAt
		}
		r.clock.Seek(start, now)
		r.markDirty(FieldCurrent | FieldPosition | FieldQueue)
	}
	if r.clock.speed() != 1 {
		r.clock.SetSpeed(1, now)
		r.markDirty(FieldSpeed)
	}
	r.changed()
}

// update is one tick: advance past finished or missing items and keep the
// vote-mode queue ordered.
func (r *Room) update() {
	now := r.now()
	if r.current == nil && len(r.queue) > 0 {
		r.dequeueNext()
	} else if r.current != nil && r.clock.Playing {
		end := r.current.Length
		if r.current.EndAt != nil {
			end = *r.current.EndAt
		}
		if end > 0 && r.clock.Position(now) > end {
			r.dequeueNext()
		}
	}
	if r.queueMode == QueueVote && len(r.queue) > 1 {
		before := make([]string, len(r.queue))
		for i, v := range r.queue {
			before[i] = v.Key()
		}
		sort.SliceStable(r.queue, func(i, j int) bool {
			return len(r.votes[r.queue[i].Key()]) > len(r.votes[r.queue[j].Key()])
		})
		for i, v := range r.queue {
			if before[i] != v.Key() {
				r.markDirty(FieldQueue)
				r.changed()
				break
			}
		}
	}
	r.segmentsFollowCurrent() // e.g. a room loaded with a video playing
	r.skipSegments(now)
	if len(r.members) > 0 {
		r.lastSeen = now
	}
}

// changed schedules a save of the room's storable state (batched with the
// other rooms' by the service's saver).
func (r *Room) changed() {
	if !r.savePending && !r.unloaded {
		r.savePending = true
		r.svc.queueSave(r)
	}
}

func validSubtitle(u string) error {
	if u != "" && !strings.HasSuffix(strings.ToLower(strings.SplitN(u, "?", 2)[0]), ".vtt") {
		return newErr(fault.Invalid, CodeUnsupportedSubtitle, "Subtitle URL must end with .vtt")
	}
	return nil
}

// validTitle bounds a title at max characters; tooLong words the refusal
// (OTT's schemas word it differently on create and on a settings change).
func validTitle(t string, max int, tooLong string) error {
	if utf8.RuneCountInString(t) > max {
		return BadArgument("title", tooLong)
	}
	if strings.ContainsAny(t, "\r\n") {
		return BadArgument("title", "title must not contain newlines")
	}
	if strings.IndexByte(t, 0) >= 0 {
		return BadArgument("title", "must not contain NUL characters")
	}
	return nil
}

// validDescription bounds a room description. A NUL is refused on every
// engine: PostgreSQL cannot store one, and a room whose description held
// one could no longer be saved there (its later changes lost).
func validDescription(d string) error {
	if len(d) > 4096 {
		return BadArgument("description", "too long")
	}
	if strings.IndexByte(d, 0) >= 0 {
		return BadArgument("description", "must not contain NUL characters")
	}
	return nil
}

func shuffle(q []Video) {
	rand.Shuffle(len(q), func(i, j int) { q[i], q[j] = q[j], q[i] })
}

// badVisibility and badQueueMode refuse a value outside the enum as OTT's
// zod schema (a nativeEnum) words it, the value it got included.
func badVisibility(v Visibility) error {
	return BadArgument("visibility", "Invalid enum value. Expected 'public' | 'unlisted' | 'private', received '"+string(v)+"'")
}

func badQueueMode(q QueueMode) error {
	return BadArgument("queueMode", "Invalid enum value. Expected 'manual' | 'vote' | 'loop' | 'dj', received '"+string(q)+"'")
}
