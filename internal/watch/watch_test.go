package watch

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

func TestDefaultGrantsWire(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(DefaultGrants())
	if err != nil {
		t.Fatal(err)
	}
	const want = `[[0,113250303],[1,113250303],[2,113250303],[3,133173247],[4,134217727],[-1,134217727]]`
	if string(b) != want {
		t.Fatalf("default grants\n got %s\nwant %s", b, want)
	}
	var back Grants
	if err := json.Unmarshal(b, &back); err != nil || back != DefaultGrants() {
		t.Fatalf("round trip: %v %v", back, err)
	}
}

func TestGrantsInvariants(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		g := DefaultGrants()
		for j := 0; j < 4; j++ {
			g.Set(Role(rng.IntN(6)-1), Permission(rng.Uint32())&AllPermissions)
		}
		for r := RoleUnregistered; r <= RoleAdministrator; r++ {
			if g.Mask(r)&^ValidationMask(r) != 0 && r != RoleAdministrator {
				t.Fatalf("role %d holds bits beyond its validation mask: %b", r, g.Mask(r))
			}
			if r > 0 && g.Mask(r)&g.Mask(r-1) != g.Mask(r-1) {
				t.Fatalf("role %d does not inherit role %d: %b vs %b", r, r-1, g.Mask(r), g.Mask(r-1))
			}
		}
		if g.Mask(RoleOwner) != AllPermissions || g.Mask(RoleAdministrator) != AllPermissions {
			t.Fatal("owner and admin must hold everything")
		}
	}
}

func TestPermissionNamesAndMasks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Permission
		name string
		mask uint32
	}{
		{PermPlayPause, "playback.play-pause", 1},
		{PermChat, "chat", 128},
		{PermSetPermsModerator, "configure-room.set-permissions.for-moderator", 1 << 12},
		{PermKick, "manage-users.kick", 1 << 24},
		{PermEdit, "manage-queue.edit", 1 << 26},
	}
	for _, tc := range tests {
		if tc.p.Name() != tc.name || uint32(tc.p) != tc.mask {
			t.Errorf("%s: got %s %d", tc.name, tc.p.Name(), tc.p)
		}
	}
	if ParseMask("*") != AllPermissions || ParseMask("playback") != PermPlayPause|PermSkip|PermSeek|PermSpeed {
		t.Error("ParseMask prefixes")
	}
	if ValidationMask(RoleUnregistered)&PermKick != 0 || ValidationMask(RoleTrusted)&PermKick == 0 {
		t.Error("kick needs trusted")
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	c := Clock{Speed: 1, Since: t0}
	c.Play(t0)
	if p := c.Position(t0.Add(10 * time.Second)); p != 10 {
		t.Fatalf("playing 10s: %v", p)
	}
	c.SetSpeed(2, t0.Add(10*time.Second))
	if p := c.Position(t0.Add(15 * time.Second)); p != 20 {
		t.Fatalf("speed 2 for 5s after 10: %v", p)
	}
	c.Pause(t0.Add(15 * time.Second))
	if p := c.Position(t0.Add(100 * time.Second)); p != 20 {
		t.Fatalf("paused: %v", p)
	}
	c.Pause(t0.Add(200 * time.Second)) // no-op
	c.Seek(5, t0.Add(200*time.Second))
	if p := c.Position(t0.Add(300 * time.Second)); p != 5 {
		t.Fatalf("seek while paused: %v", p)
	}
}

func TestRoomNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"abc", true}, {"ab", false}, {"a-b_C9", true}, {"list", false}, {"LIST", false}, {"generate", false},
		{"has space", false}, {"ünï", false}, {"0123456789012345678901234567890123", false},
	}
	for _, tc := range tests {
		if ValidName(tc.name) != tc.ok {
			t.Errorf("%q: got %v", tc.name, !tc.ok)
		}
	}
}

func TestCreateConflictsCaseInsensitive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.room("Movies", "")
	_, err := e.svc.Create(context.Background(), CreateInput{Name: "movies", Temporary: true})
	if CodeOf(err) != CodeRoomNameTaken {
		t.Fatalf("got %v", err)
	}
	if _, err := e.svc.Create(context.Background(), CreateInput{Name: "x!", Temporary: true}); CodeOf(err) != CodeBadArgument {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := e.svc.Get(context.Background(), "nope"); !errors.Is(err, fault.NotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func TestJoinOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("joinroom", "")
	e.rec.take()
	if err := r.Join(anon("a"), "c1"); err != nil {
		t.Fatal(err)
	}
	evs := e.rec.take()
	type step struct {
		topic string
		typ   EventType
		kind  string
	}
	want := []step{
		{ClientTopic("joinroom", "c1"), EvSync, ""},
		{RoomTopic("joinroom"), EvEvent, ""},
		{RoomTopic("joinroom"), EvSync, ""},
		{RoomTopic("joinroom"), EvUser, "update"},
		{ClientTopic("joinroom", "c1"), EvUser, "init"},
		{ClientTopic("joinroom", "c1"), EvYou, ""},
	}
	if len(evs) != len(want) {
		t.Fatalf("got %d events: %+v", len(evs), evs)
	}
	for i, w := range want {
		got := evs[i]
		if got.topic != w.topic || got.ev.Type != w.typ || (w.kind != "" && got.ev.User.Kind != w.kind) {
			t.Fatalf("step %d: got %s %s, want %+v", i, got.topic, got.ev.Type, w)
		}
	}
	full := evs[0].ev.Sync
	if full.Fields != AllFields || full.ServerTime.IsZero() {
		t.Errorf("full sync holds %b at %v", full.Fields, full.ServerTime)
	}
	if pos := evs[2].ev.Sync; pos.Fields != FieldPosition {
		t.Errorf("position sync: %+v", pos)
	}
	if full.Current != nil || full.PrevQueue != nil || full.Queue == nil {
		t.Errorf("idle room: no current, no previous queue, an empty queue: %+v", full)
	}
}

func TestQueueModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode        QueueMode
		wantCurrent string
		wantQueue   []string
	}{
		{QueueManual, "b", []string{"c"}},
		{QueueVote, "b", []string{"c"}},
		{QueueLoop, "b", []string{"c", "a"}},
		{QueueDJ, "a", []string{"b", "c"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.mode), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			r := e.room("modes", "")
			a := anon("a")
			e.must(r, a, "", Request{Type: ReqApplySettings, Settings: settings(t, `{"queueMode":"`+string(tc.mode)+`"}`)})
			e.must(r, a, "", Request{Type: ReqAdd, Videos: []VideoRef{*ref("a"), *ref("b"), *ref("c")}})
			snap := r.Snapshot()
			if snap.Current == nil || snap.Current.ID != "a" || len(snap.Queue) != 2 {
				t.Fatalf("first add: %+v", snap)
			}
			e.must(r, a, "", Request{Type: ReqPlayback, State: ptr(true)})
			e.clock.Add(61 * time.Second) // past the 60s length
			e.svc.Tick()
			snap = r.Snapshot()
			var q []string
			for _, v := range snap.Queue {
				q = append(q, v.ID)
			}
			if snap.Current == nil || snap.Current.ID != tc.wantCurrent || len(q) != len(tc.wantQueue) {
				t.Fatalf("after end: current %+v queue %v", snap.Current, q)
			}
			for i := range q {
				if q[i] != tc.wantQueue[i] {
					t.Fatalf("queue %v, want %v", q, tc.wantQueue)
				}
			}
			r.mu.Lock()
			pos := r.clock.Position(e.clock.Now())
			r.mu.Unlock()
			if pos != 0 {
				t.Fatalf("position after dequeue: %v", pos)
			}
		})
	}
}

func TestVoteModeOrdersByDistinctAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("voting", "")
	a, b := anon("a"), anon("b")
	e.must(r, a, "", Request{Type: ReqApplySettings, Settings: settings(t, `{"queueMode":"vote"}`)})
	e.must(r, a, "", Request{Type: ReqAdd, Videos: []VideoRef{*ref("x"), *ref("y"), *ref("z")}})
	for _, c := range []struct {
		a  Actor
		cl string
	}{{a, "a1"}, {a, "a2"}, {b, "b1"}} {
		if err := r.Join(c.a, c.cl); err != nil {
			t.Fatal(err)
		}
	}
	// a votes z from two tabs: one person, one vote.
	e.must(r, a, "a1", Request{Type: ReqVote, Video: ref("z"), Add: ptr(true)})
	e.must(r, a, "a2", Request{Type: ReqVote, Video: ref("z"), Add: ptr(true)})
	e.must(r, b, "b1", Request{Type: ReqVote, Video: ref("z"), Add: ptr(true)})
	e.must(r, b, "b1", Request{Type: ReqVote, Video: ref("z"), Add: ptr(false)})
	e.must(r, b, "b1", Request{Type: ReqVote, Video: ref("z"), Add: ptr(true)})
	snap := r.Snapshot()
	if snap.Queue[0].ID != "z" {
		t.Fatalf("vote order: %v", snap.Queue)
	}
	sync := e.flush(r)
	if !sync.Fields.Has(FieldVoteCounts) || len(sync.VoteCounts) != 1 || sync.VoteCounts[0] != (VoteCount{Video: "directz", Count: 2}) {
		t.Fatalf("voteCounts %+v", sync.VoteCounts)
	}
	if err := e.do(r, a, "a1", Request{Type: ReqVote, Video: ref("nope"), Add: ptr(true)}); CodeOf(err) != CodeVideoNotFound {
		t.Fatalf("vote on missing: %v", err)
	}
	r.Leave("b1")
	if e.flush(r) == nil {
		t.Fatal("leave should change voteCounts")
	}
	r.mu.Lock()
	n := len(r.votes["directz"])
	r.mu.Unlock()
	if n != 1 {
		t.Fatalf("b's vote should go when b leaves: %d", n)
	}
}

func TestVoteSkip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("voteskip", "")
	a, b, c := anon("a"), anon("b"), anon("c")
	for i, x := range []Actor{a, a, b, c} {
		if err := r.Join(x, x.AccountID+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}
	e.must(r, a, "a0", Request{Type: ReqApplySettings, Settings: settings(t, `{"enableVoteSkip":true}`)})
	e.must(r, a, "a0", Request{Type: ReqAdd, Videos: []VideoRef{*ref("1"), *ref("2")}})
	// 3 distinct accounts → 2 votes needed; a's two tabs count once.
	e.must(r, a, "a0", Request{Type: ReqSkip})
	e.must(r, a, "a1", Request{Type: ReqSkip}) // toggles a's vote off again
	e.must(r, a, "a0", Request{Type: ReqSkip})
	if r.Snapshot().Current.ID != "1" {
		t.Fatal("skipped too early")
	}
	e.must(r, b, "b2", Request{Type: ReqSkip})
	if s := r.Snapshot(); s.Current.ID != "2" {
		t.Fatalf("should have skipped: %+v", s.Current)
	}
	r.mu.Lock()
	n := len(r.skipVotes)
	r.mu.Unlock()
	if n != 0 {
		t.Fatalf("votes after the skip: %d, want 0", n)
	}

	// In dj mode a skip restarts the video; the votes that made it go too
	// (OTT clears votesToSkip on every dequeue), so one more vote is not
	// a second skip.
	e.must(r, a, "a0", Request{Type: ReqApplySettings, Settings: settings(t, `{"queueMode":"dj"}`)})
	e.must(r, a, "a0", Request{Type: ReqPlayback, State: ptr(true)})
	e.clock.Add(10 * time.Second)
	e.must(r, a, "a0", Request{Type: ReqSkip})
	e.must(r, b, "b2", Request{Type: ReqSkip})
	r.mu.Lock()
	pos, n := r.clock.Position(e.clock.Now()), len(r.skipVotes)
	r.mu.Unlock()
	if s := r.Snapshot(); s.Current.ID != "2" || pos != 0 || n != 0 {
		t.Fatalf("dj vote skip: current %+v position %v votes %d; want 2 restarted, no votes", s.Current, pos, n)
	}
	if sync := e.flush(r); sync == nil || !sync.Fields.Has(FieldSkipVotes) || len(sync.SkipVotes) != 0 {
		t.Fatalf("dj vote skip sync: %+v", sync)
	}
	e.clock.Add(10 * time.Second)
	e.must(r, c, "c3", Request{Type: ReqSkip})
	r.mu.Lock()
	pos = r.clock.Position(e.clock.Now())
	r.mu.Unlock()
	if pos != 10 {
		t.Fatalf("one vote after a dj skip restarted the video (position %v)", pos)
	}
}

func TestPermissionChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := registered("owner")
	r := e.room("perms", owner.AccountID)
	guest, user := anon("g"), registered("u")
	for _, x := range []struct {
		a Actor
		c string
	}{{owner, "o"}, {guest, "g"}, {user, "u"}} {
		if err := r.Join(x.a, x.c); err != nil {
			t.Fatal(err)
		}
	}
	// Take chat away from unregistered users only.
	e.must(r, owner, "o", Request{Type: ReqApplySettings, Settings: settings(t, `{"grants":[[0,`+
		itoa(int(DefaultGrants().Mask(0)&^PermChat))+`],[1,`+itoa(int(DefaultGrants().Mask(0)))+`]]}`)})
	tests := []struct {
		name string
		a    Actor
		c    string
		req  Request
		code Code
	}{
		{"guest chat denied", guest, "g", Request{Type: ReqChat, Text: ptr("hi")}, CodePermissionDenied},
		{"user chat ok", user, "u", Request{Type: ReqChat, Text: ptr("hi")}, ""},
		{"guest cannot kick", guest, "g", Request{Type: ReqKick, ClientID: "u"}, CodePermissionDenied},
		{"guest cannot promote", guest, "g", Request{Type: ReqPromote, TargetClientID: "u", Role: ptr(RoleTrusted)}, CodePermissionDenied},
		{"cannot promote unregistered", owner, "o", Request{Type: ReqPromote, TargetClientID: "g", Role: ptr(RoleTrusted)}, CodeImpossiblePromotion},
		{"owner promotes to moderator", owner, "o", Request{Type: ReqPromote, TargetClientID: "u", Role: ptr(RoleModerator)}, ""},
		{"moderator kicks guest", user, "u", Request{Type: ReqKick, ClientID: "g"}, ""},
		{"moderator cannot kick owner", user, "u", Request{Type: ReqKick, ClientID: "o"}, CodePermissionDenied},
		{"guest cannot set moderator grants", guest, "g", Request{Type: ReqApplySettings, Settings: settings(t, `{"grants":[[3,0]]}`)}, CodePermissionDenied},
		{"bad restore behaviour", owner, "o", Request{Type: ReqApplySettings, Settings: &Settings{Restore: ptr(7)}}, CodeBadArgument},
		{"no settings", owner, "o", Request{Type: ReqApplySettings}, CodeBadArgument},
		{"bad seek", guest, "g", Request{Type: ReqSeek, Value: ptr(-1.0)}, CodeBadArgument},
		{"bad speed", guest, "g", Request{Type: ReqPlaybackSpeed, Speed: ptr(9.0)}, CodeBadArgument},
		{"join is server-only", guest, "g", Request{Type: ReqJoin}, CodeBadArgument},
		{"unknown type", guest, "g", Request{Type: 42}, CodeBadArgument},
		{"bad subtitle", guest, "g", Request{Type: ReqAdd, Video: &VideoRef{Service: "direct", ID: "s", SubtitleURL: "x.srt"}}, CodeUnsupportedSubtitle},
	}
	for _, tc := range tests {
		err := e.do(r, tc.a, tc.c, tc.req)
		if CodeOf(err) != tc.code {
			t.Errorf("%s: got %v, want code %q", tc.name, err, tc.code)
		}
		if tc.code == CodePermissionDenied && !errors.Is(err, fault.Forbidden) {
			t.Errorf("%s: permission errors are Forbidden", tc.name)
		}
	}
	if got := r.Snapshot().Users; got[2].Role != RoleModerator || got[0].Role != RoleOwner {
		t.Fatalf("roles: %+v", got)
	}
	var kicked bool
	for _, p := range e.rec.take() {
		if p.topic == ClientTopic("perms", "g") && p.ev.Type == EvClose && p.ev.Close == CloseKicked {
			kicked = true
		}
	}
	if !kicked {
		t.Fatal("guest was not sent a kick")
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestUndoAndPlayNow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("undo", "")
	a := anon("a")
	if err := r.Join(a, "c"); err != nil {
		t.Fatal(err)
	}
	e.must(r, a, "c", Request{Type: ReqAdd, Videos: []VideoRef{*ref("1"), *ref("2"), *ref("3")}})
	e.must(r, a, "c", Request{Type: ReqPlayback, State: ptr(true)})
	e.clock.Add(5 * time.Second)
	e.rec.take()
	e.must(r, a, "c", Request{Type: ReqSkip})
	skipEv := e.event(ReqSkip)
	if skipEv.Additional.Video.ID != "1" || *skipEv.Additional.PrevPosition != 5 {
		t.Fatalf("skip event: %+v", skipEv)
	}
	e.must(r, a, "c", Request{Type: ReqUndo, Event: skipEv})
	s := r.Snapshot()
	if s.Current.ID != "1" || s.Queue[0].ID != "2" {
		t.Fatalf("undo skip: %+v %+v", s.Current, s.Queue)
	}
	e.must(r, a, "c", Request{Type: ReqRemove, Video: ref("3")})
	e.must(r, a, "c", Request{Type: ReqUndo, Event: e.event(ReqRemove)})
	if s := r.Snapshot(); len(s.Queue) != 2 || s.Queue[1].ID != "3" {
		t.Fatalf("undo remove: %+v", s.Queue)
	}
	e.must(r, a, "c", Request{Type: ReqPlayNow, Video: ref("new")})
	s = r.Snapshot()
	if s.Current.ID != "new" || s.Queue[0].ID != "1" || s.Queue[0].StartAt == nil {
		t.Fatalf("play now: %+v %+v", s.Current, s.Queue)
	}
	e.must(r, a, "c", Request{Type: ReqAdd, Video: ref("4")})
	if err := e.do(r, a, "c", Request{Type: ReqAdd, Video: ref("4")}); CodeOf(err) != CodeVideoAlreadyQueued {
		t.Fatalf("duplicate add: %v", err)
	}
	if err := e.do(r, a, "c", Request{Type: ReqAdd, Video: ref("missing")}); !errors.Is(err, fault.NotFound) {
		t.Fatalf("metadata error passes through: %v", err)
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := registered("o")
	r := e.room("keepme", owner.AccountID)
	if err := r.Join(owner, "c"); err != nil {
		t.Fatal(err)
	}
	e.must(r, owner, "c", Request{Type: ReqApplySettings, Settings: settings(t, `{"queueMode":"vote","title":"Film night","grants":[[0,1]]}`)})
	e.must(r, owner, "c", Request{Type: ReqAdd, Videos: []VideoRef{*ref("a"), *ref("b"), *ref("c")}})
	e.must(r, owner, "c", Request{Type: ReqVote, Video: ref("c"), Add: ptr(true)})
	e.must(r, owner, "c", Request{Type: ReqPlayback, State: ptr(true)})
	e.clock.Add(7 * time.Second)
	e.svc.Shutdown()

	svc2, err := New(Config{Now: e.clock.Now, SyncDelay: time.Hour, SaveDelay: time.Hour}, e.st, e.rec, fakeMedia{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := svc2.Get(context.Background(), "KEEPME")
	if err != nil {
		t.Fatal(err)
	}
	s := r2.Snapshot()
	if s.Title != "Film night" || s.QueueMode != QueueVote || s.Current.ID != "a" || len(s.Queue) != 2 || s.Queue[0].ID != "c" {
		t.Fatalf("restored: %+v", s)
	}
	if s.Grants.Mask(0) != 1 || s.OwnerID != "o" {
		t.Fatalf("grants/owner: %v %v", s.Grants.Mask(0), s.OwnerID)
	}
	r2.mu.Lock()
	pos, playing, votes := r2.clock.Position(e.clock.Now()), r2.clock.Playing, len(r2.votes["directc"])
	r2.mu.Unlock()
	if pos != 7 || !playing || votes != 1 {
		t.Fatalf("clock %v playing %v votes %d", pos, playing, votes)
	}
}

func TestKeepaliveUnload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tmp := e.room("temproom", "")
	perm := e.room("permroom", "owner")
	e.must(perm, registered("owner"), "", Request{Type: ReqAdd, Video: ref("x")})
	if err := tmp.Join(anon("a"), "c"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(301 * time.Second)
	e.svc.Tick()
	if _, err := e.svc.Get(context.Background(), "temproom"); err != nil {
		t.Fatal("a room with users must stay loaded")
	}
	tmp.Leave("c")
	e.clock.Add(301 * time.Second)
	e.svc.Tick()
	if _, err := e.svc.Get(context.Background(), "temproom"); !errors.Is(err, fault.NotFound) {
		t.Fatalf("temporary room should be gone: %v", err)
	}
	p2, err := e.svc.Get(context.Background(), "permroom")
	if err != nil || p2 == perm {
		t.Fatalf("permanent room should reload fresh: %v", err)
	}
	s := p2.Snapshot()
	if s.Current != nil || len(s.Queue) != 0 {
		t.Fatalf("prompt restore keeps prevQueue aside: %+v", s)
	}
	if pq := p2.FullSync().PrevQueue; len(pq) != 1 {
		t.Fatalf("prevQueue: %+v", pq)
	}
	// Nobody answered the prompt and the room unloads with nothing queued:
	// the unload's (empty) queue replaces the old prevQueue, as OTT does.
	e.clock.Add(301 * time.Second)
	e.svc.Tick()
	p3, err := e.svc.Get(context.Background(), "permroom")
	if err != nil || p3 == p2 {
		t.Fatalf("permanent room should reload fresh again: %v", err)
	}
	if pq := p3.FullSync().PrevQueue; pq != nil {
		t.Fatalf("prevQueue after an empty unload: %+v, want none", pq)
	}
	// A queue left at unload is offered, and restored, as before.
	e.must(p3, registered("owner"), "", Request{Type: ReqAdd, Video: ref("x")})
	e.clock.Add(301 * time.Second)
	e.svc.Tick()
	p4, err := e.svc.Get(context.Background(), "permroom")
	if err != nil || p4 == p3 {
		t.Fatalf("permanent room should reload fresh a third time: %v", err)
	}
	e.must(p4, anon("z"), "", Request{Type: ReqRestoreQueue})
	if s := p4.Snapshot(); s.Current == nil || s.Current.ID != "x" {
		t.Fatalf("restore: %+v", s)
	}
}

func TestQueueChangesAreDurableAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // SaveDelay is an hour here: only a synchronous save can pass
	r := e.room("durable", "owner")
	e.must(r, registered("owner"), "", Request{Type: ReqAdd, Videos: []VideoRef{*ref("a"), *ref("b")}})
	e.must(r, registered("owner"), "", Request{Type: ReqVote, Video: ref("b"), Add: ptr(true)})
	rec, err := e.st.RoomByName(context.Background(), "durable")
	if err != nil {
		t.Fatal(err)
	}
	var st storedState
	if err := json.Unmarshal(rec.State, &st); err != nil {
		t.Fatal(err)
	}
	if st.Current == nil || st.Current.ID != "a" || len(st.Queue) != 1 || len(st.Votes["directb"]) != 1 {
		t.Fatalf("stored state: %s", rec.State)
	}
}

func TestEnsure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := CreateInput{Name: "channel-room", Title: "Watch channel", OwnerID: "owner"}
	r1, err := e.svc.Ensure(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.svc.Ensure(context.Background(), in)
	if err != nil || r2 != r1 || r1.Snapshot().Title != "Watch channel" || r1.Snapshot().IsTemporary {
		t.Fatalf("second ensure: %v %v", r2 == r1, err)
	}
	if _, err := e.svc.Ensure(context.Background(), CreateInput{Name: "x"}); CodeOf(err) != CodeBadArgument {
		t.Fatalf("bad name: %v", err)
	}
}

// TestDeleteIsNotUndoneByAGet: a Get of the room while Delete is removing
// it (a client polling the room) finds nothing, and does not load the room
// again from the row that is about to go. Before the fix it did, and the
// deleted room lived on in memory.
func TestDeleteIsNotUndoneByAGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r := e.room("doomed", "owner")
	got := make(chan error, 1)
	e.st.beforeDelete = func() {
		e.st.beforeDelete = nil
		go func() {
			_, err := e.svc.Get(ctx, "doomed")
			got <- err
		}()
		// Give that Get the chance to load the row before it goes; with
		// the fix it waits for the delete instead.
		select {
		case err := <-got:
			got <- err
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := e.svc.Delete(ctx, r, registered("owner")); err != nil {
		t.Fatal(err)
	}
	if err := <-got; !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("the Get during the delete: %v", err)
	}
	if _, err := e.svc.Get(ctx, "doomed"); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("after the delete: %v", err)
	}
	if n := len(e.svc.Loaded()); n != 0 {
		t.Fatalf("%d rooms still loaded", n)
	}
}

// TestQueueBounded: a room's queue holds MaxQueue videos and an add names
// at most MaxAdd, whatever path would grow it (add, play now, the undo of
// a remove or a skip), so no one can grow a queue that every sync and save
// carries whole.
func TestQueueBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("bounded", "")
	a := anon("a")
	if err := r.Join(a, "c"); err != nil {
		t.Fatal(err)
	}
	batch := func(from, n int) []VideoRef {
		out := make([]VideoRef, n)
		for i := range out {
			out[i] = *ref(itoa(from + i))
		}
		return out
	}
	if err := e.do(r, a, "c", Request{Type: ReqAdd, Videos: batch(0, MaxAdd+1)}); CodeOf(err) != CodeBadArgument {
		t.Fatalf("an add of %d videos: %v", MaxAdd+1, err)
	}
	next := 0
	for next <= 2*MaxQueue {
		err := e.do(r, a, "c", Request{Type: ReqAdd, Videos: batch(next, MaxAdd)})
		if err != nil {
			if !errors.Is(err, ErrQueueFull) {
				t.Fatalf("filling the queue: %v", err)
			}
			break
		}
		next += MaxAdd
	}
	for next <= 2*MaxQueue { // the last videos go in one at a time, up to the bound
		if err := e.do(r, a, "c", Request{Type: ReqAdd, Video: ref(itoa(next))}); err != nil {
			if !errors.Is(err, ErrQueueFull) {
				t.Fatal(err)
			}
			break
		}
		next++
	}
	full := func(what string) {
		t.Helper()
		if s := r.Snapshot(); len(s.Queue) != MaxQueue || s.Current == nil {
			t.Fatalf("%s: queue of %d, current %v; want %d and one playing", what, len(s.Queue), s.Current, MaxQueue)
		}
	}
	full("filled")
	if err := e.do(r, a, "c", Request{Type: ReqPlayNow, Video: ref("new")}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("play now of a new video on a full queue: %v", err)
	}
	e.rec.take()
	e.must(r, a, "c", Request{Type: ReqRemove, Video: ref("5")})
	removed := e.event(ReqRemove)
	e.must(r, a, "c", Request{Type: ReqAdd, Video: ref("refill")})
	if err := e.do(r, a, "c", Request{Type: ReqUndo, Event: removed}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("undoing a remove into a full queue: %v", err)
	}
	full("after the undone remove")
	e.rec.take()
	e.must(r, a, "c", Request{Type: ReqSkip})
	skipped := e.event(ReqSkip)
	e.must(r, a, "c", Request{Type: ReqAdd, Video: ref("refill 2")})
	if err := e.do(r, a, "c", Request{Type: ReqUndo, Event: skipped}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("undoing a skip into a full queue: %v", err)
	}
	full("after the undone skip")
	r.mu.Lock()
	r.prevQueue = []Video{{Service: "direct", ID: "prev 1"}, {Service: "direct", ID: "prev 2"}}
	r.mu.Unlock()
	e.must(r, a, "c", Request{Type: ReqRestoreQueue})
	full("after restoring a previous queue")
}

// A ban bars the account from the room by every path, not only from
// joining: its token's requests without a socket (OTT's REST routes send
// none) are refused, and it cannot claim or kick.
func TestBannedAccountCannotActWithoutASocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner, banned, other := registered("owner"), registered("banned"), registered("other")
	r := e.room("banroom", owner.AccountID)
	for _, x := range []struct {
		a Actor
		c string
	}{{owner, "o"}, {banned, "b"}, {other, "x"}} {
		if err := r.Join(x.a, x.c); err != nil {
			t.Fatal(err)
		}
	}
	e.must(r, owner, "o", Request{Type: ReqAdd, Video: &VideoRef{Service: "direct", ID: "v1"}})
	e.must(r, owner, "o", Request{Type: ReqAdd, Video: &VideoRef{Service: "direct", ID: "v2"}})
	e.must(r, owner, "o", Request{Type: ReqKick, ClientID: "b", Ban: ptr(true)})
	r.Leave("b") // the ban closed the socket
	before := r.Snapshot()
	title := "taken over"
	for name, req := range map[string]Request{
		"settings": {Type: ReqApplySettings, Settings: &Settings{Title: &title}},
		"add":      {Type: ReqAdd, Video: &VideoRef{Service: "direct", ID: "v3"}},
		"remove":   {Type: ReqRemove, Video: &VideoRef{Service: "direct", ID: "v1"}},
		"edit":     {Type: ReqUpdateQueueItem, Video: &VideoRef{Service: "direct", ID: "v1"}},
		"chat":     {Type: ReqChat, Text: ptr("still here")},
		"skip":     {Type: ReqSkip},
		"kick":     {Type: ReqKick, ClientID: "x"},
	} {
		if err := e.do(r, banned, "", req); CodeOf(err) != Code("banned") || !errors.Is(err, fault.Forbidden) {
			t.Errorf("%s by the banned account: %v, want the ban", name, err)
		}
	}
	if err := e.svc.Kick(context.Background(), r, banned, "x", false); CodeOf(err) != Code("banned") {
		t.Errorf("kick through the service: %v, want the ban", err)
	}
	after := r.Snapshot()
	if after.Title != before.Title || len(after.Queue) != len(before.Queue) {
		t.Fatalf("the banned account changed the room: title %q queue %d", after.Title, len(after.Queue))
	}
	if err := r.Join(banned, "b2"); CodeOf(err) != Code("banned") {
		t.Fatalf("rejoin: %v", err)
	}
	// Others are unaffected.
	e.must(r, other, "x", Request{Type: ReqChat, Text: ptr("hi")})

	// An ownerless room cannot be claimed by an account banned from it.
	free := e.room("freeroom", "")
	e.must(free, owner, "", Request{Type: ReqAdd, Video: &VideoRef{Service: "direct", ID: "v1"}})
	if err := free.Join(banned, "fb"); err != nil {
		t.Fatal(err)
	}
	free.mu.Lock()
	free.bans = map[string]bool{banned.AccountID: true}
	free.mu.Unlock()
	if err := e.svc.Claim(context.Background(), free, banned); CodeOf(err) != Code("banned") {
		t.Fatalf("claim by a banned account: %v", err)
	}
	if free.Snapshot().HasOwner {
		t.Fatal("the banned account owns the room")
	}
}

// TestUndoTrustsOnlyTheRoom: an undo of a skip or a remove brings back the
// room's own copy of the video (and the skip's own position), once; an
// undo naming a video no skip or remove took out, or a forged copy of one
// that was, plays nothing the client made up.
func TestUndoTrustsOnlyTheRoom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("undo-forged", "")
	a := anon("a")
	if err := r.Join(a, "c"); err != nil {
		t.Fatal(err)
	}
	e.must(r, a, "c", Request{Type: ReqAdd, Videos: []VideoRef{*ref("1"), *ref("2"), *ref("3")}})
	e.must(r, a, "c", Request{Type: ReqPlayback, State: ptr(true)})
	e.clock.Add(5 * time.Second)
	e.rec.take()
	e.must(r, a, "c", Request{Type: ReqSkip})
	skipEv := e.event(ReqSkip)
	want := *skipEv.Additional.Video

	// Never taken out: refused, nothing changes.
	invented := *skipEv
	invented.Additional.Video = &Video{Service: "direct", ID: "https://attacker.example/x.mp4", Title: "made up"}
	if err := e.do(r, a, "c", Request{Type: ReqUndo, Event: &invented}); CodeOf(err) != CodeBadArgument {
		t.Fatalf("undo of a skip that never was: %v, want a bad argument", err)
	}
	if s := r.Snapshot(); s.Current == nil || s.Current.ID != "2" {
		t.Fatalf("a refused undo changed the room: current %+v", s.Current)
	}
	// The skipped video, forged: the room's copy and position come back.
	forged := *skipEv
	fv := want
	fv.Title, fv.SrcURL, fv.Thumbnail = "forged title", "https://attacker.example/x.mp4", "javascript:alert(1)"
	forged.Additional.Video = &fv
	forged.Additional.PrevPosition = ptr(999.0)
	e.must(r, a, "c", Request{Type: ReqUndo, Event: &forged})
	s := r.Snapshot()
	if s.Current == nil || s.Current.Title != want.Title || s.Current.SrcURL != want.SrcURL || s.Current.Thumbnail != want.Thumbnail {
		t.Fatalf("undone skip plays %+v, want the room's own %+v", s.Current, want)
	}
	r.mu.Lock()
	p := r.clock.Position(r.now())
	r.mu.Unlock()
	if p < 4.9 || p > 5.1 {
		t.Errorf("undone skip at %v, want the skip's own 5", p)
	}
	// Once only.
	if err := e.do(r, a, "c", Request{Type: ReqUndo, Event: skipEv}); CodeOf(err) != CodeBadArgument {
		t.Fatalf("a second undo of one skip: %v, want a bad argument", err)
	}
	// A remove, forged likewise.
	e.must(r, a, "c", Request{Type: ReqRemove, Video: ref("3")})
	rmEv := e.event(ReqRemove)
	rv := *rmEv.Additional.Video
	rv.Title = "forged title"
	rmEv.Additional.Video = &rv
	e.must(r, a, "c", Request{Type: ReqUndo, Event: rmEv})
	s = r.Snapshot()
	if n := len(s.Queue); n == 0 || s.Queue[n-1].ID != "3" || s.Queue[n-1].Title == "forged title" {
		t.Fatalf("undone remove: %+v", s.Queue)
	}
}

// TestAddByURLEchoesVideos: an AddRequest naming a url is echoed as OTT
// echoes it: the request gains the video it stood for ({service, id}, or
// the list's videos) and additional holds the video, so OTT's client shows
// "added <title>" and its undo (which reads request.video) removes it. A
// URL add that echoed only the url was answered "undone" while nothing was.
func TestAddByURLEchoesVideos(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("byurl", "")
	a := anon("a")
	if err := r.Join(a, "c"); err != nil {
		t.Fatal(err)
	}
	e.must(r, a, "c", Request{Type: ReqAdd, Video: ref("first")})
	e.rec.take()
	const u = "https://media.example/a.mp4"
	e.must(r, a, "c", Request{Type: ReqAdd, URL: u})
	ev := e.event(ReqAdd)
	if ev.Request.URL != u || ev.Request.Video == nil || *ev.Request.Video != (VideoRef{Service: "direct", ID: u}) || ev.Request.Videos != nil {
		t.Fatalf("url add request echoed as %+v", ev.Request)
	}
	if ev.Additional.Video == nil || ev.Additional.Video.Title != "direct" || ev.Additional.Videos != nil {
		t.Fatalf("url add additional: %+v", ev.Additional)
	}
	e.must(r, a, "c", Request{Type: ReqUndo, Event: ev})
	if s := r.Snapshot(); len(s.Queue) != 0 {
		t.Fatalf("undo of a url add left %+v", s.Queue)
	}

	e.must(r, a, "c", Request{Type: ReqAdd, URL: "https://media.example/list"})
	ev = e.event(ReqAdd)
	if ev.Request.Video != nil || len(ev.Request.Videos) != 2 || ev.Request.Videos[1].ID != "https://media.example/list/2" || len(ev.Additional.Videos) != 2 {
		t.Fatalf("list url add echoed as %+v / %+v", ev.Request, ev.Additional)
	}
	if s := r.Snapshot(); len(s.Queue) != 2 {
		t.Fatalf("list add queued %+v", s.Queue)
	}
	if err := e.do(r, a, "c", Request{Type: ReqAdd, URL: "https://media.example/list"}); CodeOf(err) != CodeVideoAlreadyQueued {
		t.Fatalf("a list whose videos are all queued: %v, want VideoAlreadyQueued", err)
	}
	e.must(r, a, "c", Request{Type: ReqUndo, Event: ev})
	if s := r.Snapshot(); len(s.Queue) != 0 {
		t.Fatalf("undo of a list url add left %+v", s.Queue)
	}
}

// TestSingleAddDismissesPrevQueue: as in OTT, adding one video (by id or
// by url) dismisses the previous queue, so OTT's client hides its restore
// banner; adding a list leaves it offered, as OTT does.
func TestSingleAddDismissesPrevQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("dismiss", "")
	a := anon("a")
	if err := r.Join(a, "c"); err != nil {
		t.Fatal(err)
	}
	seed := func() {
		r.mu.Lock()
		r.prevQueue = []Video{{Service: "direct", ID: "prev"}}
		r.mu.Unlock()
	}
	seed()
	e.must(r, a, "c", Request{Type: ReqAdd, Videos: []VideoRef{*ref("l1"), *ref("l2")}})
	if pq := r.FullSync().PrevQueue; len(pq) != 1 {
		t.Fatalf("a list add dismissed prevQueue: %+v", pq)
	}
	e.rec.take()
	e.must(r, a, "c", Request{Type: ReqAdd, Video: ref("one")})
	if pq := r.FullSync().PrevQueue; pq != nil {
		t.Fatalf("prevQueue after a single add: %+v, want none", pq)
	}
	r.flushSync()
	var synced bool
	for _, p := range e.rec.take() {
		if p.ev.Type == EvSync && p.ev.Sync.Fields.Has(FieldPrevQueue) && p.ev.Sync.PrevQueue == nil {
			synced = true
		}
	}
	if !synced {
		t.Fatal("no sync told clients the previous queue is gone")
	}
	seed()
	e.must(r, a, "c", Request{Type: ReqAdd, URL: "https://media.example/b.mp4"})
	if pq := r.FullSync().PrevQueue; pq != nil {
		t.Fatalf("prevQueue after a url add: %+v, want none", pq)
	}
}

// TestPlayNowAsOTT: as OTT's playNow, playing a video now keeps the room's
// playback speed (only the queue moving on resets it), and a subtitleUrl
// sent with it is applied whether the video is fetched or taken from the
// queue (checked for .vtt either way).
func TestPlayNowAsOTT(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("playnow", "")
	a := anon("a")
	if err := r.Join(a, "c"); err != nil {
		t.Fatal(err)
	}
	e.must(r, a, "c", Request{Type: ReqAdd, Videos: []VideoRef{*ref("1"), *ref("2"), *ref("3")}})
	e.must(r, a, "c", Request{Type: ReqPlaybackSpeed, Speed: ptr(1.5)})
	speed := func() float64 {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.clock.speed()
	}
	bad := VideoRef{Service: "direct", ID: "2", SubtitleURL: "https://example.com/subs.srt"}
	if err := e.do(r, a, "c", Request{Type: ReqPlayNow, Video: &bad}); CodeOf(err) != CodeUnsupportedSubtitle {
		t.Fatalf("queued video with a .srt subtitle: %v", err)
	}
	if s := r.Snapshot(); s.Current.ID != "1" || len(s.Queue) != 2 {
		t.Fatalf("a refused play-now changed the room: %+v %+v", s.Current, s.Queue)
	}
	queued := VideoRef{Service: "direct", ID: "2", SubtitleURL: "https://example.com/subs.vtt"}
	e.must(r, a, "c", Request{Type: ReqPlayNow, Video: &queued})
	if s := r.Snapshot(); s.Current.ID != "2" || s.Current.SubtitleURL != queued.SubtitleURL {
		t.Fatalf("play now of a queued video: %+v", s.Current)
	}
	if got := speed(); got != 1.5 {
		t.Fatalf("speed after play now of a queued video: %v, want 1.5", got)
	}
	fresh := VideoRef{Service: "direct", ID: "new", SubtitleURL: "https://example.com/new.vtt"}
	e.must(r, a, "c", Request{Type: ReqPlayNow, Video: &fresh})
	if s := r.Snapshot(); s.Current.ID != "new" || s.Current.SubtitleURL != fresh.SubtitleURL {
		t.Fatalf("play now of a new video: %+v", s.Current)
	}
	if got := speed(); got != 1.5 {
		t.Fatalf("speed after play now of a new video: %v, want 1.5", got)
	}
	// Without a subtitleUrl, a queued video keeps the one it has.
	e.must(r, a, "c", Request{Type: ReqPlayNow, Video: ref("2")})
	if s := r.Snapshot(); s.Current.ID != "2" || s.Current.SubtitleURL != queued.SubtitleURL {
		t.Fatalf("play now without a subtitle: %+v", s.Current)
	}
}

// TestRequestFromOutsideRoomPublishesNoEvent: a request from no connection
// in the room (OTT's REST routes, for a token that has not joined) changes
// the room as the caller's role allows, and, as in OTT, publishes no event;
// the change reaches the room in its sync.
func TestRequestFromOutsideRoomPublishesNoEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("outside", "")
	member, outsider := anon("m"), anon("o")
	if err := r.Join(member, "c"); err != nil {
		t.Fatal(err)
	}
	e.must(r, member, "c", Request{Type: ReqAdd, Video: ref("1")})
	e.rec.take()
	e.must(r, outsider, "", Request{Type: ReqAdd, Video: ref("2")})
	e.must(r, outsider, "", Request{Type: ReqAdd, Videos: []VideoRef{*ref("3"), *ref("4")}})
	e.must(r, outsider, "", Request{Type: ReqUpdateQueueItem, Video: ref("3"), Update: &QueueItemUpdate{SubtitleURL: ptr("https://example.org/s.vtt")}})
	e.must(r, outsider, "", Request{Type: ReqRemove, Video: ref("4")})
	for _, p := range e.rec.take() {
		if p.ev.Type == EvEvent {
			t.Fatalf("a request from outside the room published an event: %+v", p.ev.Event)
		}
	}
	if s := e.flush(r); s == nil || len(s.Queue) != 2 || s.Queue[0].ID != "2" || s.Queue[1].ID != "3" {
		t.Fatalf("sync after requests from outside: %+v", s)
	}
	// A member's request still publishes its event.
	e.must(r, member, "c", Request{Type: ReqRemove, Video: ref("3")})
	if ev := e.event(ReqRemove); ev.User.ID != "c" {
		t.Fatalf("member's event: %+v", ev)
	}
}

// countingMedia is fakeMedia counting its Info calls.
type countingMedia struct {
	fakeMedia
	calls atomic.Int64
}

func (m *countingMedia) Info(ctx context.Context, service, id string) (Video, error) {
	m.calls.Add(1)
	return m.fakeMedia.Info(ctx, service, id)
}

// TestAddRefusedBeforeFetching: as OTT's addToQueue, an add the caller may
// not make, or of a video already queued or playing, is answered before any
// metadata is fetched (a YouTube lookup spends the instance's API quota).
func TestAddRefusedBeforeFetching(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := &countingMedia{}
	svc, err := New(Config{AllowTemp: true, Now: e.clock.Now, SyncDelay: time.Hour, SaveDelay: time.Hour}, e.st, e.rec, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	owner, guest := registered("o"), anon("g")
	r := e.room("prefetch", owner.AccountID)
	for _, x := range []struct {
		a Actor
		c string
	}{{owner, "o"}, {guest, "g"}} {
		if err := r.Join(x.a, x.c); err != nil {
			t.Fatal(err)
		}
	}
	e.must(r, guest, "g", Request{Type: ReqAdd, Video: ref("1")})
	e.must(r, guest, "g", Request{Type: ReqAdd, Video: ref("2")})
	if n := m.calls.Load(); n != 2 {
		t.Fatalf("%d fetches for two adds", n)
	}
	for _, id := range []string{"1", "2"} { // playing, queued
		if err := e.do(r, guest, "g", Request{Type: ReqAdd, Video: ref(id)}); CodeOf(err) != CodeVideoAlreadyQueued {
			t.Fatalf("add of %s again: %v", id, err)
		}
	}
	// Unregistered users may no longer add.
	e.must(r, owner, "o", Request{Type: ReqApplySettings, Settings: settings(t, `{"grants":[[0,`+
		itoa(int(DefaultGrants().Mask(0)&^PermAdd))+`]]}`)})
	if err := e.do(r, guest, "g", Request{Type: ReqAdd, Video: ref("missing")}); CodeOf(err) != CodePermissionDenied {
		t.Fatalf("add without the permission: %v", err)
	}
	if err := e.do(r, guest, "", Request{Type: ReqAdd, Videos: []VideoRef{*ref("3"), *ref("4")}}); CodeOf(err) != CodePermissionDenied {
		t.Fatalf("list add without the permission: %v", err)
	}
	// A play-now of a video not in the room needs the add permission too.
	if err := e.do(r, guest, "g", Request{Type: ReqPlayNow, Video: ref("missing")}); CodeOf(err) != CodePermissionDenied {
		t.Fatalf("play now of a new video without the add permission: %v", err)
	}
	if n := m.calls.Load(); n != 2 {
		t.Fatalf("refused adds fetched metadata: %d fetches, want 2", n)
	}
	// Of a queued one it needs only ordering (no fetch).
	e.must(r, guest, "g", Request{Type: ReqPlayNow, Video: ref("2")})
	if s := r.Snapshot(); s.Current.ID != "2" || m.calls.Load() != 2 {
		t.Fatalf("play now of a queued video: %+v, %d fetches", s.Current, m.calls.Load())
	}
}

// TestUndoPublishesWhatItDoes: as in OTT, which runs them as requests, the
// undo of a seek is a seek back and the undo of one added video is its
// remove, each with its own event (so the room's users are told, and can
// undo that in turn); undoing an add whose video is no longer queued is
// VideoNotFound. Hearth changed the room without a word, and answered an
// undo that did nothing as done.
func TestUndoPublishesWhatItDoes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("undo-events", "")
	a := anon("a")
	if err := r.Join(a, "c"); err != nil {
		t.Fatal(err)
	}
	e.must(r, a, "c", Request{Type: ReqAdd, Videos: []VideoRef{*ref("1"), *ref("2")}})
	e.clock.Add(5 * time.Second)
	e.rec.take()

	e.must(r, a, "c", Request{Type: ReqSeek, Value: ptr(30.0)})
	seekEv := e.event(ReqSeek)
	e.must(r, a, "c", Request{Type: ReqUndo, Event: seekEv})
	back := e.event(ReqSeek)
	if back.Request.Value == nil || *back.Request.Value != *seekEv.Additional.PrevPosition ||
		back.Additional.PrevPosition == nil || *back.Additional.PrevPosition != 30 {
		t.Fatalf("undo of a seek published %+v, want a seek back to %v from 30", back, *seekEv.Additional.PrevPosition)
	}

	e.must(r, a, "c", Request{Type: ReqAdd, Video: ref("3")})
	addEv := e.event(ReqAdd)
	e.must(r, a, "c", Request{Type: ReqUndo, Event: addEv})
	rm := e.event(ReqRemove)
	if rm.Request.Video == nil || rm.Request.Video.ID != "3" || rm.Additional.Video == nil || rm.Additional.Video.ID != "3" ||
		rm.Additional.QueueIdx == nil || *rm.Additional.QueueIdx != 1 {
		t.Fatalf("undo of an add published %+v, want the remove of 3 at 1", rm)
	}
	if s := r.Snapshot(); len(s.Queue) != 1 || s.Queue[0].ID != "2" {
		t.Fatalf("undo of an add left %+v", s.Queue)
	}
	if err := e.do(r, a, "c", Request{Type: ReqUndo, Event: addEv}); CodeOf(err) != CodeVideoNotFound {
		t.Fatalf("undo of an add already undone: %v, want VideoNotFound", err)
	}
	// The remove it published is undoable like any other.
	e.must(r, a, "c", Request{Type: ReqUndo, Event: rm})
	if s := r.Snapshot(); len(s.Queue) != 2 || s.Queue[1].ID != "3" {
		t.Fatalf("undo of the undo's remove left %+v", s.Queue)
	}
}

// TestDemotionNeedsTheNewRolesPromotion: as in OTT, moving a user to
// Trusted, Moderator or Administrator needs the promotion to that role
// whichever way it goes; a demotion needs the demotion from the user's
// role too. A moderator allowed to demote moderators but not to promote
// to Trusted made another moderator Trusted in Hearth, which OTT refuses.
func TestDemotionNeedsTheNewRolesPromotion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := registered("owner")
	r := e.room("demote", owner.AccountID)
	m1, m2 := registered("m1"), registered("m2")
	for _, x := range []struct {
		a Actor
		c string
	}{{owner, "o"}, {m1, "c1"}, {m2, "c2"}} {
		if err := r.Join(x.a, x.c); err != nil {
			t.Fatal(err)
		}
	}
	e.must(r, owner, "o", Request{Type: ReqPromote, TargetClientID: "c1", Role: ptr(RoleModerator)})
	e.must(r, owner, "o", Request{Type: ReqPromote, TargetClientID: "c2", Role: ptr(RoleModerator)})
	mod := ParseMask("manage-users.demote-moderator", "manage-users.demote-trusted-user", "manage-users.kick")
	e.must(r, owner, "o", Request{Type: ReqApplySettings, Settings: settings(t, `{"grants":[[3,`+itoa(int(mod))+`]]}`)})
	if r.grants.Granted(RoleModerator, PermPromoteTrusted) || !r.grants.Granted(RoleModerator, PermDemoteModerator) {
		t.Fatalf("moderator grants: %b", r.grants.Mask(RoleModerator))
	}
	err := e.do(r, m1, "c1", Request{Type: ReqPromote, TargetClientID: "c2", Role: ptr(RoleTrusted)})
	if CodeOf(err) != CodePermissionDenied || !strings.Contains(err.Error(), "manage-users.promote-trusted-user") {
		t.Fatalf("moderator demoting a moderator to Trusted without promote-trusted-user: %v, want it denied", err)
	}
	if got := r.roleOf(m2); got != RoleModerator {
		t.Fatalf("refused demotion left m2 %v", got)
	}
	// To Registered needs no promotion, only the demotion.
	e.must(r, m1, "c1", Request{Type: ReqPromote, TargetClientID: "c2", Role: ptr(RoleRegistered)})
	if got := r.roleOf(m2); got != RoleRegistered {
		t.Fatalf("demotion to Registered left m2 %v", got)
	}
}

// TestUpdateQueueItemChecksSubtitleFirst: OTT's updateQueueItem refuses a
// subtitle that does not end in .vtt before it looks for the video, so an
// edit of a video not queued with such a subtitle is
// UnsupportedSubtitleType; with a good subtitle it is VideoNotFound.
func TestUpdateQueueItemChecksSubtitleFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("subsfirst", "")
	a := anon("a")
	err := e.do(r, a, "", Request{Type: ReqUpdateQueueItem, Video: ref("nope"), Update: &QueueItemUpdate{SubtitleURL: ptr("https://example.org/s.srt")}})
	if CodeOf(err) != CodeUnsupportedSubtitle {
		t.Fatalf("a .srt for a video not queued: %v (%s), want %s", err, CodeOf(err), CodeUnsupportedSubtitle)
	}
	err = e.do(r, a, "", Request{Type: ReqUpdateQueueItem, Video: ref("nope"), Update: &QueueItemUpdate{SubtitleURL: ptr("https://example.org/s.vtt")}})
	if CodeOf(err) != CodeVideoNotFound {
		t.Fatalf("a .vtt for a video not queued: %v (%s), want %s", err, CodeOf(err), CodeVideoNotFound)
	}
}
