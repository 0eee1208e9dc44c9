package watch

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// handle applies one request under mu: it resolves who is asking, then
// hands the request to the function for its kind. videos holds the
// metadata for Add and PlayNow, fetched by the service before taking the
// lock.
func (r *Room) handle(a Actor, clientID string, req Request, videos []Video) error {
	if r.unloaded {
		return ErrRoomNotFound
	}
	c := &call{room: r, a: a, clientID: clientID, req: req, videos: videos, now: r.now()}
	if m := r.memberByClient(clientID); m != nil {
		c.a = m.Actor
		c.ui = r.info(m)
	} else {
		c.ui = UserInfo{ID: clientID, Name: a.Name, IsLoggedIn: a.LoggedIn, Status: "none", Role: r.roleOf(a)}
	}
	c.role = r.roleOf(c.a)
	// A ban bars the account from acting in the room by any path: its
	// sockets are closed and cannot rejoin, and its token's REST requests
	// (queue, settings, undo) are refused the same way.
	if r.banned(c.a) {
		return ErrBanned
	}
	if req.Type == ReqJoin || req.Type == ReqLeave {
		return BadArgument("type", "join and leave are sent by the server")
	}
	if req.Type < 0 || int(req.Type) >= len(handlers) || handlers[req.Type] == nil {
		return BadArgument("type", "unknown request type")
	}
	return handlers[req.Type](r, c)
}

// precheckAdd answers, under mu, what an add would be refused for before
// its videos are fetched: the room gone, the caller banned or without the
// permission, or the one video it names already queued or playing. add
// checks all of it again with the videos in hand.
func (r *Room) precheckAdd(a Actor, clientID string, req Request) error {
	if r.unloaded {
		return ErrRoomNotFound
	}
	if m := r.memberByClient(clientID); m != nil {
		a = m.Actor
	}
	if r.banned(a) {
		return ErrBanned
	}
	if err := r.grants.Check(r.roleOf(a), PermAdd); err != nil {
		return err
	}
	if req.Video != nil && req.URL == "" && len(req.Videos) == 0 && r.isQueuedOrCurrent(*req.Video) {
		return newErr(fault.Invalid, CodeVideoAlreadyQueued, "Video(s) are already in the queue")
	}
	return nil
}

// precheckPlayNow is precheckAdd for a play-now, in OTT's order: the
// play-now permission, then (for a video neither playing nor queued, which
// must be fetched) the add permission. held reports a video already in the
// room, which needs no fetch.
func (r *Room) precheckPlayNow(a Actor, clientID string, v VideoRef) (held bool, err error) {
	if r.unloaded {
		return false, ErrRoomNotFound
	}
	if m := r.memberByClient(clientID); m != nil {
		a = m.Actor
	}
	if r.banned(a) {
		return false, ErrBanned
	}
	role := r.roleOf(a)
	if err := r.grants.Check(role, PermPlayNow); err != nil {
		return false, err
	}
	if r.queued(v) >= 0 || (r.current != nil && r.current.Same(v)) {
		return true, nil
	}
	return false, r.grants.Check(role, PermAdd)
}

// call is one request being handled: who asks, through which connection,
// with what role, and when.
type call struct {
	a        Actor
	clientID string
	req      Request
	videos   []Video
	ui       UserInfo
	role     Role
	now      time.Time
	room     *Room
}

// handlers maps each request kind to its function; join and leave are the
// server's own and have none.
var handlers = [...]func(*Room, *call) error{
	ReqPlayback:        (*Room).playback,
	ReqSkip:            (*Room).skip,
	ReqSeek:            (*Room).seek,
	ReqAdd:             (*Room).add,
	ReqRemove:          (*Room).remove,
	ReqOrder:           (*Room).order,
	ReqVote:            (*Room).vote,
	ReqPromote:         func(r *Room, c *call) error { return r.promote(c.a, c.role, c.req) },
	ReqUpdateUser:      (*Room).updateUser,
	ReqChat:            (*Room).chat,
	ReqUndo:            (*Room).undo,
	ReqApplySettings:   func(r *Room, c *call) error { return r.applySettings(c.a, c.role, c.req.Settings) },
	ReqPlayNow:         (*Room).playNow,
	ReqShuffle:         (*Room).shuffleQueue,
	ReqPlaybackSpeed:   (*Room).playbackSpeed,
	ReqRestoreQueue:    (*Room).restoreQueue,
	ReqKick:            (*Room).kickRequest,
	ReqUpdateQueueItem: (*Room).updateQueueItem,
}

// check refuses the request when the caller's role lacks p.
func (c *call) check(p Permission) error { return c.room.grants.Check(c.role, p) }

// event publishes the request as an event record, with add for undo. A
// request from no connection in the room (REST by a token that has not
// joined) publishes none, as in OTT, whose events name the connection that
// made them: the change itself still reaches everyone in the next sync.
func (c *call) event(add Additional) {
	if c.clientID == "" {
		return
	}
	c.room.publish(Event{Type: EvEvent, Event: &EventRecord{Request: c.req, User: c.ui, Additional: add}})
}

// settle ends a request that changed the room: the tick's work (advance
// the queue, reorder votes, skip segments) runs at once.
func (r *Room) settle() error {
	r.update()
	return nil
}

func (r *Room) kickRequest(c *call) error {
	if c.req.Ban != nil && *c.req.Ban {
		return r.kick(c.a, c.role, c.req.ClientID, CloseBanned)
	}
	return r.kick(c.a, c.role, c.req.ClientID, CloseKicked)
}

func (r *Room) playback(c *call) error {
	if err := c.check(PermPlayPause); err != nil {
		return err
	}
	if c.req.State == nil {
		return BadArgument("state", "missing")
	}
	if *c.req.State == r.clock.Playing {
		return nil
	}
	if *c.req.State {
		r.clock.Play(c.now)
	} else {
		r.clock.Pause(c.now)
	}
	r.markDirty(FieldPlaying | FieldPosition)
	r.changed()
	c.event(Additional{})
	return r.settle()
}

func (r *Room) skip(c *call) error {
	if err := c.check(PermSkip); err != nil {
		return err
	}
	if r.current == nil {
		return nil
	}
	if r.voteSkip {
		if _, ok := r.skipVotes[c.a.AccountID]; ok {
			delete(r.skipVotes, c.a.AccountID)
		} else {
			if r.skipVotes == nil {
				r.skipVotes = map[string]string{}
			}
			r.skipVotes[c.a.AccountID] = c.clientID
		}
		r.markDirty(FieldSkipVotes)
		if len(r.skipVotes) < r.skipThreshold() {
			return nil
		}
	}
	prev := *r.current
	pos := r.clock.Position(c.now)
	r.dequeueNext()
	r.rememberUndo(prev, pos)
	c.event(Additional{Video: &prev, PrevPosition: &pos})
	return r.settle()
}

func (r *Room) seek(c *call) error {
	if err := c.check(PermSeek); err != nil {
		return err
	}
	if c.req.Value == nil || math.IsNaN(*c.req.Value) || math.IsInf(*c.req.Value, 0) || *c.req.Value < 0 {
		return BadArgument("value", "must be a non-negative number")
	}
	pos := r.clock.Position(c.now)
	r.clock.Seek(*c.req.Value, c.now)
	r.seekedInto(*c.req.Value)
	r.markDirty(FieldPosition)
	r.changed()
	c.event(Additional{PrevPosition: &pos})
	return r.settle()
}

func (r *Room) add(c *call) error {
	if err := c.check(PermAdd); err != nil {
		return err
	}
	if len(c.videos) == 0 {
		if c.req.Videos != nil && c.req.Video == nil && c.req.URL == "" {
			// An empty list adds nothing: OTT answers this.
			return newErr(fault.Invalid, CodeVideoAlreadyQueued, "Video(s) are already in the queue")
		}
		return BadArgument("video", "missing")
	}
	added := make([]Video, 0, len(c.videos))
	for _, v := range c.videos {
		ref := VideoRef{Service: v.Service, ID: v.ID}
		if r.isQueuedOrCurrent(ref) || slices.ContainsFunc(added, func(o Video) bool { return o.Same(ref) }) {
			if len(c.videos) == 1 {
				return newErr(fault.Invalid, CodeVideoAlreadyQueued, "Video(s) are already in the queue")
			}
			continue
		}
		added = append(added, v)
	}
	if len(added) == 0 {
		return newErr(fault.Invalid, CodeVideoAlreadyQueued, "Video(s) are already in the queue")
	}
	if err := r.roomFor(len(added)); err != nil {
		return err
	}
	r.queue = append(r.queue, added...)
	r.markDirty(FieldQueue)
	r.changed()
	if c.req.URL != "" && c.req.Video == nil && len(c.req.Videos) == 0 {
		// As OTT does, the event names what the url stood for: its client
		// titles the toast from it and undo removes request.video(s).
		refs := make([]VideoRef, len(added))
		for i, v := range added {
			refs[i] = VideoRef{Service: v.Service, ID: v.ID}
		}
		if len(refs) == 1 {
			c.req.Video = &refs[0]
		} else {
			c.req.Videos = refs
		}
	}
	if len(added) == 1 && c.req.Video != nil {
		// One video added (not a list) means the room moved on: OTT
		// drops the previous queue, and its client its restore banner.
		if r.prevQueue != nil {
			r.prevQueue = nil
			r.markDirty(FieldPrevQueue)
		}
		c.event(Additional{Video: &added[0]})
	} else {
		c.event(Additional{Videos: added})
	}
	return r.settle()
}

// queuedFor is the queue index of the request's video, for a caller with
// perm: refused without it, BadArgument without a video, VideoNotFound when
// it is not queued.
func (r *Room) queuedFor(c *call, perm Permission) (int, error) {
	if err := c.check(perm); err != nil {
		return -1, err
	}
	return r.queuedIndex(c)
}

// queuedIndex is the queue index of the video c names (its permission
// checked by the caller).
func (r *Room) queuedIndex(c *call) (int, error) {
	if c.req.Video == nil {
		return -1, BadArgument("video", "missing")
	}
	i := r.queued(*c.req.Video)
	if i < 0 {
		return -1, newErr(fault.Invalid, CodeVideoNotFound, "Video not found.")
	}
	return i, nil
}

func (r *Room) remove(c *call) error {
	i, err := r.queuedFor(c, PermRemove)
	if err != nil {
		return err
	}
	v := r.queue[i]
	r.queue = slices.Delete(r.queue, i, i+1)
	r.rememberUndo(v, 0)
	r.markDirty(FieldQueue)
	r.changed()
	c.event(Additional{Video: &v, QueueIdx: &i})
	return r.settle()
}

func (r *Room) order(c *call) error {
	if err := c.check(PermOrder); err != nil {
		return err
	}
	if c.req.FromIdx == nil || *c.req.FromIdx < 0 || *c.req.FromIdx >= len(r.queue) {
		return BadArgument("fromIdx", "out of range")
	}
	if c.req.ToIdx == nil || *c.req.ToIdx < 0 || *c.req.ToIdx >= len(r.queue) {
		return BadArgument("toIdx", "out of range")
	}
	v := r.queue[*c.req.FromIdx]
	r.queue = slices.Delete(r.queue, *c.req.FromIdx, *c.req.FromIdx+1)
	r.queue = slices.Insert(r.queue, *c.req.ToIdx, v)
	r.markDirty(FieldQueue)
	r.changed()
	return r.settle()
}

func (r *Room) vote(c *call) error {
	if err := c.check(PermVote); err != nil {
		return err
	}
	if c.req.Video == nil || c.req.Add == nil {
		return BadArgument("video", "missing")
	}
	key := c.req.Video.Service + c.req.Video.ID
	if *c.req.Add {
		if r.queued(*c.req.Video) < 0 {
			return newErr(fault.Invalid, CodeVideoNotFound, "Video not found.")
		}
		if r.votes == nil {
			r.votes = map[string]map[string]bool{}
		}
		if r.votes[key] == nil {
			r.votes[key] = map[string]bool{}
		}
		r.votes[key][c.a.AccountID] = true
	} else if set := r.votes[key]; set != nil {
		delete(set, c.a.AccountID)
		if len(set) == 0 {
			delete(r.votes, key)
		}
	}
	r.markDirty(FieldVoteCounts)
	r.changed()
	r.update()
	return r.settle()
}

func (r *Room) updateUser(c *call) error {
	m := r.memberByClient(c.clientID)
	if m == nil || c.req.Info == nil {
		return nil
	}
	switch c.req.Info.Status {
	case "", "none", "ready", "buffering", "error":
	default:
		return BadArgument("status", "unknown status")
	}
	if c.req.Info.Status != "" {
		m.status = c.req.Info.Status
	}
	r.publish(Event{Type: EvUser, User: updated(r.info(m))})
	return r.settle()
}

func (r *Room) chat(c *call) error {
	if err := c.check(PermChat); err != nil {
		return err
	}
	if c.req.Text == nil || *c.req.Text == "" {
		return BadArgument("text", "missing")
	}
	if len(*c.req.Text) > r.svc.cfg.MaxChatBytes {
		return BadArgument("text", "too long")
	}
	if strings.IndexByte(*c.req.Text, 0) >= 0 {
		// The message store refuses it: it would be shown and never kept.
		return BadArgument("text", "must not contain NUL characters")
	}
	r.publish(Event{Type: EvChat, Chat: &Chat{From: c.ui, Text: *c.req.Text}})
	r.svc.chatPosted(r, c.a, *c.req.Text)
	return r.settle()
}

func (r *Room) playNow(c *call) error {
	if err := c.check(PermPlayNow); err != nil {
		return err
	}
	if c.req.Video == nil {
		return BadArgument("video", "missing")
	}
	if r.current != nil && r.current.Same(*c.req.Video) {
		return nil // already playing it
	}
	var v Video
	if i := r.queued(*c.req.Video); i >= 0 {
		if err := c.check(PermOrder); err != nil {
			return err
		}
		// A subtitleUrl sent with it applies to the queued video too.
		if err := validSubtitle(c.req.Video.SubtitleURL); err != nil {
			return err
		}
		v = r.queue[i]
		if c.req.Video.SubtitleURL != "" {
			v.SubtitleURL = c.req.Video.SubtitleURL
		}
		r.queue = slices.Delete(r.queue, i, i+1)
	} else {
		if err := c.check(PermAdd); err != nil {
			return err
		}
		if len(c.videos) == 0 {
			return BadArgument("video", "missing")
		}
		if r.current != nil {
			if err := r.roomFor(1); err != nil { // the current video goes back to the queue
				return err
			}
		}
		v = c.videos[0]
	}
	if r.current != nil {
		cur := *r.current
		pos := r.clock.Position(c.now)
		cur.StartAt = &pos
		r.queue = slices.Insert(r.queue, 0, cur)
	}
	r.current = &v
	// The speed stays, as in OTT: only the queue moving on resets it.
	r.clock.Seek(0, c.now)
	r.markDirty(FieldCurrent | FieldQueue | FieldPosition)
	r.changed()
	return r.settle()
}

func (r *Room) shuffleQueue(c *call) error {
	if err := c.check(PermOrder); err != nil {
		return err
	}
	shuffle(r.queue)
	r.markDirty(FieldQueue)
	r.changed()
	return r.settle()
}

func (r *Room) playbackSpeed(c *call) error {
	if err := c.check(PermSpeed); err != nil {
		return err
	}
	if c.req.Speed == nil || math.IsNaN(*c.req.Speed) || *c.req.Speed < 0.25 || *c.req.Speed > 2 {
		return BadArgument("speed", "must be between 0.25 and 2")
	}
	r.clock.SetSpeed(*c.req.Speed, c.now)
	r.markDirty(FieldSpeed | FieldPosition)
	r.changed()
	return r.settle()
}

// restoreQueue puts the queue kept aside back (it adds videos: it needs
// manage-queue.add) or discards it (manage-queue.remove). OTT checks no
// permission here, so anyone in the room could fill or drop it.
func (r *Room) restoreQueue(c *call) error {
	perm := PermAdd
	if c.req.Discard != nil && *c.req.Discard {
		perm = PermRemove
	}
	if err := c.check(perm); err != nil {
		return err
	}
	if r.prevQueue == nil {
		return nil
	}
	if c.req.Discard == nil || !*c.req.Discard {
		for _, v := range r.prevQueue {
			if r.roomFor(1) == nil && !r.isQueuedOrCurrent(VideoRef{Service: v.Service, ID: v.ID}) {
				r.queue = append(r.queue, v)
			}
		}
		r.markDirty(FieldQueue)
	}
	r.prevQueue = nil
	r.markDirty(FieldPrevQueue)
	r.changed()
	return r.settle()
}

func (r *Room) updateQueueItem(c *call) error {
	// OTT checks the permission, then the subtitle's ending, then whether
	// the video is queued: a .srt for a video not queued is
	// UnsupportedSubtitleType, not VideoNotFound.
	if err := c.check(PermEdit); err != nil {
		return err
	}
	if c.req.Update != nil && c.req.Update.SubtitleURL != nil {
		if err := validSubtitle(*c.req.Update.SubtitleURL); err != nil {
			return err
		}
	}
	i, err := r.queuedIndex(c)
	if err != nil {
		return err
	}
	if c.req.Update != nil && c.req.Update.SubtitleURL != nil {
		r.queue[i].SubtitleURL = *c.req.Update.SubtitleURL
	}
	v := r.queue[i]
	r.markDirty(FieldQueue)
	r.changed()
	c.event(Additional{Video: &v})
	return r.settle()
}

// skipThreshold is how many distinct accounts must vote to skip: half of
// the accounts present whose role may skip, rounded up (at least 1).
func (r *Room) skipThreshold() int {
	eligible := map[string]bool{}
	for _, m := range r.members {
		if r.grants.Granted(r.roleOf(m.Actor), PermSkip) {
			eligible[m.AccountID] = true
		}
	}
	return max(1, int(math.Ceil(0.5*float64(len(eligible)))))
}

func promotePerm(to Role) Permission {
	switch to {
	case RoleAdministrator:
		return PermPromoteAdmin
	case RoleModerator:
		return PermPromoteModerator
	}
	return PermPromoteTrusted
}

func demotePerm(from Role) Permission {
	switch from {
	case RoleAdministrator:
		return PermDemoteAdmin
	case RoleModerator:
		return PermDemoteModerator
	}
	return PermDemoteTrusted
}

func (r *Room) promote(a Actor, role Role, req Request) error {
	if req.Role == nil || !req.Role.Valid() || *req.Role == RoleOwner || *req.Role == RoleUnregistered {
		return BadArgument("role", "invalid role")
	}
	t := r.memberByClient(req.TargetClientID)
	if t == nil {
		return BadArgument("targetClientId", "no such user in the room")
	}
	if !t.LoggedIn {
		return newErr(fault.Invalid, CodeImpossiblePromotion, "Can't promote/demote unregistered user")
	}
	cur := r.roleOf(t.Actor)
	to := *req.Role
	if cur == RoleOwner {
		return PermissionDenied(PermDemoteAdmin)
	}
	if to == cur {
		return nil
	}
	// As in OTT: a move to Trusted or above needs the promotion to that
	// role whichever way it goes, and a move down the demotion from the
	// user's role as well.
	if to >= RoleTrusted {
		if err := r.grants.Check(role, promotePerm(to)); err != nil {
			return err
		}
	}
	if to < cur {
		if err := r.grants.Check(role, demotePerm(cur)); err != nil {
			return err
		}
	}
	if r.userRoles == nil {
		r.userRoles = map[string]Role{}
	}
	if to <= RoleRegistered {
		delete(r.userRoles, t.AccountID)
	} else {
		r.userRoles[t.AccountID] = to
	}
	for _, m := range r.members {
		if m.AccountID == t.AccountID {
			r.publish(Event{Type: EvUser, User: updated(r.info(m))})
		}
	}
	return r.svc.saveNow(r)
}

// kick closes a connection (and, for a ban, every connection of the
// account, remembering the ban).
func (r *Room) kick(a Actor, role Role, clientID string, why CloseReason) error {
	if err := r.grants.Check(role, PermKick); err != nil {
		return err
	}
	t := r.memberByClient(clientID)
	if t == nil {
		return BadArgument("clientId", "no such user in the room")
	}
	tr := r.roleOf(t.Actor)
	if !(role == RoleOwner || (role.rank() > tr.rank() && tr != RoleOwner)) {
		return PermissionDenied(PermKick)
	}
	if why == CloseBanned {
		if r.bans == nil {
			r.bans = map[string]bool{}
		}
		r.bans[t.AccountID] = true
		for _, m := range r.members {
			if m.AccountID == t.AccountID {
				r.publishTo(m.clientID, Event{Type: EvClose, Close: CloseBanned})
			}
		}
		return r.svc.saveNow(r)
	}
	r.publishTo(clientID, Event{Type: EvClose, Close: why})
	return nil
}

// maxUndoable is how many skipped or removed videos a room remembers for
// undo.
const maxUndoable = 32

// undone is a video a skip or a remove took out, and where a skip left it.
type undone struct {
	video Video
	pos   float64
}

// errNothingToUndo refuses an undo naming a video no recent skip or
// remove of this room took out.
var errNothingToUndo = BadArgument("event", "no recent skip or remove of this video to undo")

// rememberUndo records a video a skip (at pos) or a remove took out.
func (r *Room) rememberUndo(v Video, pos float64) {
	if len(r.undoable) >= maxUndoable {
		r.undoable = slices.Delete(r.undoable, 0, 1)
	}
	r.undoable = append(r.undoable, undone{video: v, pos: pos})
}

// undoableFor is the index in r.undoable of the newest record of v, or -1.
func (r *Room) undoableFor(v *Video) int {
	ref := VideoRef{Service: v.Service, ID: v.ID}
	for i := len(r.undoable) - 1; i >= 0; i-- {
		if r.undoable[i].video.Same(ref) {
			return i
		}
	}
	return -1
}

// takeUndo removes and returns record i: an event is undone once.
func (r *Room) takeUndo(i int) undone {
	u := r.undoable[i]
	r.undoable = slices.Delete(r.undoable, i, i+1)
	return u
}

// undo reverts a seek, skip, add or remove that the client names by the
// event record it was sent. A skip's or remove's video comes back as the
// room recorded it (with the position the skip left), not as the client
// sent it: the record is the client's to echo, so trusting it would let a
// caller allowed to skip play any video, with any title and URL, without
// the metadata fetch an add makes.
//
// As in OTT, the undo of a seek is a seek back (its own event, with the
// position it left, so it can be undone in turn) and the undo of one added
// video is its remove (the remove's event, undoable, or VideoNotFound when
// it is no longer queued): the room's other users see what happened.
func (r *Room) undo(c *call) error {
	role := c.role
	ev := c.req.Event
	if ev == nil {
		return BadArgument("event", "missing")
	}
	now := r.now()
	add := ev.Additional
	switch ev.Request.Type {
	case ReqSeek:
		if err := r.grants.Check(role, PermSeek); err != nil {
			return err
		}
		if add.PrevPosition == nil || *add.PrevPosition < 0 || math.IsNaN(*add.PrevPosition) {
			return BadArgument("event", "missing prevPosition")
		}
		back := *c
		back.req = Request{Type: ReqSeek, Value: add.PrevPosition}
		return r.seek(&back)
	case ReqSkip:
		if err := r.grants.Check(role, PermSkip); err != nil {
			return err
		}
		if add.Video == nil || add.PrevPosition == nil {
			return BadArgument("event", "missing video")
		}
		u := r.undoableFor(add.Video)
		if u < 0 {
			return errNothingToUndo
		}
		if r.current != nil {
			if err := r.roomFor(1); err != nil {
				return err
			}
			r.queue = slices.Insert(r.queue, 0, *r.current)
		}
		was := r.takeUndo(u)
		r.current = &was.video
		r.clock.Seek(was.pos, now)
		r.markDirty(FieldCurrent | FieldQueue | FieldPosition)
	case ReqAdd:
		if err := r.grants.Check(role, PermRemove); err != nil {
			return err
		}
		if v := ev.Request.Video; v != nil && len(ev.Request.Videos) == 0 {
			ref := VideoRef{Service: v.Service, ID: v.ID}
			if r.queued(ref) >= 0 {
				rm := *c
				rm.req = Request{Type: ReqRemove, Video: &ref}
				return r.remove(&rm)
			}
			if r.current == nil || !r.current.Same(ref) || len(r.queue) > 0 {
				return newErr(fault.Invalid, CodeVideoNotFound, "Video not found.")
			}
		}
		refs := ev.Request.Videos
		if ev.Request.Video != nil {
			refs = append(refs, *ev.Request.Video)
		}
		for _, ref := range refs {
			if i := r.queued(ref); i >= 0 {
				r.queue = slices.Delete(r.queue, i, i+1)
			} else if r.current != nil && r.current.Same(ref) && len(r.queue) == 0 {
				r.current = nil
				r.clock = Clock{Speed: 1, Since: now}
				r.markDirty(FieldCurrent | FieldPlaying | FieldPosition)
			}
		}
		r.markDirty(FieldQueue)
	case ReqRemove:
		if err := r.grants.Check(role, PermAdd); err != nil {
			return err
		}
		if add.Video == nil || add.QueueIdx == nil {
			return BadArgument("event", "missing video")
		}
		if r.isQueuedOrCurrent(VideoRef{Service: add.Video.Service, ID: add.Video.ID}) {
			return newErr(fault.Invalid, CodeVideoAlreadyQueued, "Video(s) are already in the queue")
		}
		u := r.undoableFor(add.Video)
		if u < 0 {
			return errNothingToUndo
		}
		if err := r.roomFor(1); err != nil {
			return err
		}
		i := min(max(*add.QueueIdx, 0), len(r.queue))
		r.queue = slices.Insert(r.queue, i, r.takeUndo(u).video)
		r.markDirty(FieldQueue)
	default:
		return nil
	}
	r.changed()
	return nil
}

// How OTT's zod schemas word a title over their bound: the create schema's
// own message, and zod's default for the settings schema's max(254).
const (
	titleTooLongCreate   = "too long, must be at most 255 characters"
	titleTooLongSettings = "String must contain at most 254 character(s)"
)

// Settings is a partial settings change; nil fields are unchanged.
type Settings struct {
	Title       *string
	Description *string
	Visibility  *Visibility
	QueueMode   *QueueMode
	// Grants sets the own mask of each role it names; roles it does not
	// name keep theirs.
	Grants   map[Role]Permission
	AutoSkip *[]string // SponsorBlock categories skipped automatically
	Restore  *int      // RestoreNever, RestorePrompt or RestoreAlways
	VoteSkip *bool
}

// CheckSettings reports what applySettings would refuse in the values of
// in alone (a title, description, visibility, queue mode, categories or
// restore behaviour out of bounds), whatever room they are for: a surface
// checks a body before looking the room up, as OTT parses its schema first.
func CheckSettings(in *Settings) error {
	if in == nil {
		return BadArgument("settings", "missing")
	}
	if in.Title != nil {
		if err := validTitle(*in.Title, 254, titleTooLongSettings); err != nil {
			return err
		}
	}
	if in.Description != nil {
		if err := validDescription(*in.Description); err != nil {
			return err
		}
	}
	if in.Visibility != nil && !in.Visibility.Valid() {
		return badVisibility(*in.Visibility)
	}
	if in.QueueMode != nil && !in.QueueMode.Valid() {
		return badQueueMode(*in.QueueMode)
	}
	if in.AutoSkip != nil {
		if _, err := normaliseCategories(*in.AutoSkip); err != nil {
			return err
		}
	}
	if in.Restore != nil && (*in.Restore < RestoreNever || *in.Restore > RestoreAlways) {
		return BadArgument("restoreQueueBehavior", "must be 0, 1 or 2")
	}
	return nil
}

func (r *Room) applySettings(a Actor, role Role, in *Settings) error {
	if in == nil {
		return BadArgument("settings", "missing")
	}
	s := *in // unchanged fields are dropped below; the caller's stays as sent
	var err error
	check := func(p Permission) error { return r.grants.Check(role, p) }
	// Drop unchanged fields, then check every remaining one before applying
	// any, so a refused change leaves the room as it was.
	if s.Title != nil && *s.Title == r.title {
		s.Title = nil
	}
	if s.Description != nil && *s.Description == r.description {
		s.Description = nil
	}
	if s.Visibility != nil && *s.Visibility == r.visibility {
		s.Visibility = nil
	}
	if s.QueueMode != nil && *s.QueueMode == r.queueMode {
		s.QueueMode = nil
	}
	if s.Restore != nil && *s.Restore == r.restore {
		s.Restore = nil
	}
	if s.VoteSkip != nil && *s.VoteSkip == r.voteSkip {
		s.VoteSkip = nil
	}
	var autoSkip []string
	if s.AutoSkip != nil {
		autoSkip, err = normaliseCategories(*s.AutoSkip)
		if err != nil {
			return err
		}
		if slices.Equal(autoSkip, r.autoSkip) {
			s.AutoSkip = nil
		}
	}
	if r.channel != "" && !a.System {
		switch {
		case s.Title != nil:
			return errChannelManaged("title")
		case s.Visibility != nil:
			return errChannelManaged("visibility")
		}
	}
	if s.Title != nil {
		if err := validTitle(*s.Title, 254, titleTooLongSettings); err != nil {
			return err
		}
		if err := check(PermSetTitle); err != nil {
			return err
		}
	}
	if s.Description != nil {
		if err := validDescription(*s.Description); err != nil {
			return err
		}
		if err := check(PermSetDescription); err != nil {
			return err
		}
	}
	if s.Visibility != nil {
		if !s.Visibility.Valid() {
			return badVisibility(*s.Visibility)
		}
		if err := check(PermSetVisibility); err != nil {
			return err
		}
	}
	if s.QueueMode != nil {
		if !s.QueueMode.Valid() {
			return badQueueMode(*s.QueueMode)
		}
		if err := check(PermSetQueueMode); err != nil {
			return err
		}
	}
	if s.Restore != nil && (*s.Restore < RestoreNever || *s.Restore > RestoreAlways) {
		return BadArgument("restoreQueueBehavior", "must be 0, 1 or 2")
	}
	if s.Restore != nil || s.VoteSkip != nil || s.AutoSkip != nil {
		if err := check(PermConfigureOther); err != nil {
			return err
		}
	}
	newGrants := r.grants
	grantsChanged := false
	roles := make([]Role, 0, len(s.Grants))
	for ro := range s.Grants {
		roles = append(roles, ro)
	}
	slices.Sort(roles)
	for _, ro := range roles {
		if ro < RoleUnregistered || ro > RoleModerator {
			continue // only roles 0-3 are editable
		}
		cand := newGrants
		cand.Set(ro, s.Grants[ro])
		if cand == newGrants {
			continue
		}
		if r.channel != "" && !a.System {
			return errChannelManaged("grants")
		}
		need := [...]Permission{PermSetPermsUnregistered, PermSetPermsRegistered, PermSetPermsTrusted, PermSetPermsModerator}[ro]
		if err := check(need); err != nil {
			return err
		}
		newGrants = cand
		grantsChanged = true
	}
	if s.Title != nil {
		r.title = *s.Title
		r.markDirty(FieldTitle)
	}
	if s.Description != nil {
		r.description = *s.Description
		r.markDirty(FieldDescription)
	}
	if s.Visibility != nil {
		r.visibility = *s.Visibility
		r.markDirty(FieldVisibility)
	}
	if s.QueueMode != nil {
		r.queueMode = *s.QueueMode
		r.markDirty(FieldQueueMode)
	}
	if s.Restore != nil {
		r.restore = *s.Restore
		r.markDirty(FieldRestore)
	}
	if s.VoteSkip != nil {
		r.voteSkip = *s.VoteSkip
		if !r.voteSkip && len(r.skipVotes) > 0 {
			clear(r.skipVotes)
			r.markDirty(FieldSkipVotes)
		}
		r.markDirty(FieldVoteSkip)
	}
	if s.AutoSkip != nil {
		r.autoSkip = autoSkip
		r.markDirty(FieldAutoSkip)
	}
	if grantsChanged {
		r.grants = newGrants
		r.markDirty(FieldGrants)
		for _, m := range r.members {
			r.publish(Event{Type: EvUser, User: updated(r.info(m))})
		}
	}
	r.update()
	return r.svc.saveNow(r)
}

func normaliseCategories(in []string) ([]string, error) {
	set := map[string]bool{}
	for _, c := range in {
		if !slices.Contains(SegmentCategories, c) {
			return nil, BadArgument("autoSkipSegmentCategories", "unknown category "+c)
		}
		set[c] = true
	}
	out := []string{}
	for _, c := range SegmentCategories {
		if set[c] {
			out = append(out, c)
		}
	}
	return out, nil
}
