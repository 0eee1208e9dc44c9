package together_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// TestPresenceSweepClearsStaleOnline: a node that starts marks offline the
// accounts left "online" with no connection anywhere (a crashed node's
// users), and leaves alone those connected to another running node.
func TestPresenceSweepClearsStaleOnline(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	first := newNode(t, db, b, func(d *together.Deps) { d.PresenceBus = b })
	live, stale := first.register("live"), first.register("stale")
	w, _, err := first.dial("token=" + live.access)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor("READY")
	// What a crash leaves behind: stored online, connected nowhere.
	if _, err := db.Community().SetPresence(context.Background(), stale.id, true, false); err != nil {
		t.Fatal(err)
	}
	second := newNode(t, db, b, func(d *together.Deps) {
		d.PresenceBus, d.PresenceSweep, d.OfflineGrace = b, 50*time.Millisecond, time.Millisecond
	})
	status := func(u user) string {
		me, _ := second.must(200, "GET", "/users/@me", u.access, nil)
		s, _ := me["status"].(string)
		return s
	}
	deadline := time.Now().Add(hangGuard)
	for status(stale) != "offline" {
		if time.Now().After(deadline) {
			t.Fatal("the stale account was never swept offline")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := status(live); s != "online" {
		t.Fatalf("an account connected to the other node was swept: %q", s)
	}
}

// TestPresenceReachesCoMembersOnce: a presence update reaches every
// account sharing a community with its sender, the sender included, once
// even when they share two, and nobody else. Each observer then announces
// its own presence, which follows anything sent to it before on the same
// bus subscription, so "once" and "never" are read without waiting.
func TestPresenceReachesCoMembersOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob, cat := e.register("ann"), e.register("bob"), e.register("cat")
	e.serverWithChannel(ann, "one", bob)
	e.serverWithChannel(ann, "two", bob)
	open := func(u user) *ws {
		w, _, err := e.dial("token=" + u.access)
		if err != nil {
			t.Fatal(err)
		}
		w.waitFor("READY")
		return w
	}
	wb, wc := open(bob), open(cat)
	wa := open(ann)
	wa.send(map[string]any{"op": "PRESENCE_UPDATE", "d": map[string]any{"status": "dnd", "custom_status": "mark-1"}})
	isMark := func(f frame, id string) bool {
		var d struct {
			UserID       string  `json:"user_id"`
			Status       string  `json:"status"`
			CustomStatus *string `json:"custom_status"`
		}
		return f.T == "PRESENCE_UPDATE" && json.Unmarshal(f.D, &d) == nil && d.UserID == id &&
			d.Status == "dnd" && d.CustomStatus != nil && *d.CustomStatus == "mark-1"
	}
	for !isMark(wa.waitFor("PRESENCE_UPDATE"), ann.id) {
	}
	// count reads w's frames until its own account's "away" update, counting
	// ann's marked update on the way.
	count := func(w *ws, u user) int {
		w.send(map[string]any{"op": "PRESENCE_UPDATE", "d": map[string]any{"status": "away"}})
		n := 0
		for {
			f := w.waitFor("PRESENCE_UPDATE")
			if isMark(f, ann.id) {
				n++
			}
			if strings.Contains(string(f.D), `"`+u.id+`"`) && strings.Contains(string(f.D), `"away"`) {
				return n
			}
		}
	}
	if n := count(wb, bob); n != 1 {
		t.Fatalf("bob, in both of ann's servers, got her update %d times", n)
	}
	if n := count(wc, cat); n != 0 {
		t.Fatalf("cat, in none of ann's servers, got her update %d times", n)
	}
}

// TestVoiceStateOfCrashedNodeCleared: a node killed with sockets open
// never drops its members' voice states (that happens when the last
// socket there closes). A node that learns they are connected nowhere
// (the survivors when the dead node goes silent, or the next start's
// sweep) takes them out of the call, whether they were stored online or
// offline, and leaves alone a member connected to a running node.
func TestVoiceStateOfCrashedNodeCleared(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	first := newNode(t, db, b, func(d *together.Deps) { d.PresenceBus = b })
	ann, ghost, quiet := first.register("ann"), first.register("ghost"), first.register("quiet")
	sid, _ := first.serverWithChannel(ann, "talk", ghost, quiet)
	vc, _ := first.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
	vid := vc["id"].(string)
	w, _, err := first.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor("READY")
	first.must(201, "POST", "/channels/"+vid+"/voice", ann.access, nil)

	// What a kill leaves: two members in the call with no socket anywhere,
	// one stored online, one stored offline (invisible).
	ctx := context.Background()
	for _, u := range []user{ghost, quiet} {
		if _, err := db.TogetherExtras().SetVoice(ctx, &together.VoiceState{UserID: u.id, ChannelID: vid, CommunityID: sid,
			Username: u.name, JoinedAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Community().SetPresence(ctx, ghost.id, true, false); err != nil {
		t.Fatal(err)
	}
	// The ghost was also going live: nobody else could, until a moderator
	// stopped it.
	if err := db.TogetherExtras().StartGoLive(ctx, vid, &together.GoLive{BroadcasterID: ghost.id, Quality: "720p",
		StartedAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
		t.Fatal(err)
	}

	second := newNode(t, db, b, func(d *together.Deps) {
		d.PresenceBus, d.PresenceSweep, d.OfflineGrace = b, 50*time.Millisecond, time.Millisecond
	})
	inCall := func() []string {
		_, arr := second.must(200, "GET", "/channels/"+vid+"/voice", ann.access, nil)
		var ids []string
		for _, v := range arr {
			ids = append(ids, v.(map[string]any)["user_id"].(string))
		}
		return ids
	}
	deadline := time.Now().Add(hangGuard)
	for ids := inCall(); len(ids) != 1; ids = inCall() {
		if time.Now().After(deadline) {
			t.Fatalf("voice states of members connected nowhere were never cleared: %v", ids)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ids := inCall(); ids[0] != ann.id {
		t.Fatalf("in the call: %v, want only ann (connected to the first node)", ids)
	}
	// The members saw the leaves and the end of the go-live session.
	stopped := false
	for left := map[string]bool{}; len(left) < 2 || !stopped; {
		var d struct {
			UserID        string  `json:"user_id"`
			ChannelID     *string `json:"channel_id"`
			BroadcasterID string  `json:"broadcaster_id"`
		}
		f := w.waitFor("")
		if (f.T != "VOICE_STATE_UPDATE" && f.T != "GO_LIVE_STOP") || json.Unmarshal(f.D, &d) != nil {
			continue
		}
		switch {
		case f.T == "GO_LIVE_STOP" && d.BroadcasterID == ghost.id:
			stopped = true
		case f.T == "VOICE_STATE_UPDATE" && d.ChannelID == nil:
			left[d.UserID] = true
		}
	}
	second.must(404, "GET", "/channels/"+vid+"/go-live", ann.access, nil)
}

// pacing is ann on two sockets and bob on one, members of one server with
// a channel cid, under a rate clock that stands still (no refill however
// slowly the frames run) until the test moves it on.
type pacing struct {
	e            *env
	clock        *atomic.Int64
	ann          user
	cid          string
	wb, one, two *ws
}

// seen reads bob's frames until ann's update marked until (or, with until
// "", ann's TYPING_START), returning the marks of ann's updates.
func (f *pacing) seen(until string) []string {
	var marks []string
	for {
		fr := f.wb.waitFor("")
		var d struct {
			UserID       string  `json:"user_id"`
			CustomStatus *string `json:"custom_status"`
		}
		if json.Unmarshal(fr.D, &d) != nil || d.UserID != f.ann.id {
			continue
		}
		if fr.T == "TYPING_START" && until == "" {
			return marks
		}
		if fr.T == "PRESENCE_UPDATE" && d.CustomStatus != nil {
			marks = append(marks, *d.CustomStatus)
			if *d.CustomStatus == until {
				return marks
			}
		}
	}
}

func newPacing(t *testing.T) *pacing {
	t.Helper()
	f := &pacing{clock: new(atomic.Int64)}
	f.clock.Store(time.Now().UnixNano())
	f.e = newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.RateClock = func() time.Time { return time.Unix(0, f.clock.Load()) } })
	var bob user
	f.ann, bob = f.e.register("ann"), f.e.register("bob")
	_, f.cid = f.e.serverWithChannel(f.ann, "g", bob)
	open := func(u user) *ws {
		w, _, err := f.e.dial("token=" + u.access)
		if err != nil {
			t.Fatal(err)
		}
		w.waitFor("READY")
		return w
	}
	f.wb = open(bob)
	f.one, f.two = open(f.ann), open(f.ann)
	return f
}

// TestPresenceUpdatesPaced: an account's sockets together act on
// PresenceUpdates PRESENCE_UPDATE frames a minute (each a profile write
// and an event to everyone sharing a server), so a second socket does not
// add to the budget; the updates past it are held, each replacing the one
// before, and the last is applied once the pace allows.
func TestPresenceUpdatesPaced(t *testing.T) {
	t.Parallel()
	f := newPacing(t)
	clock, e, ann, cid, one, two := f.clock, f.e, f.ann, f.cid, f.one, f.two
	update := func(w *ws, i int) {
		w.send(map[string]any{"op": "PRESENCE_UPDATE", "d": map[string]any{"status": "dnd", "custom_status": fmt.Sprint("p", i)}})
	}
	for i := range 3 {
		update(one, i)
	}
	if got := f.seen("p2"); len(got) != 3 {
		t.Fatalf("first socket's updates: %v", got)
	}
	for i := 3; i < together.PresenceUpdates+3; i++ {
		update(two, i)
	}
	two.send(map[string]any{"op": "TYPING_START", "d": map[string]string{"channel_id": cid}})
	want := []string{}
	for i := 3; i < together.PresenceUpdates; i++ {
		want = append(want, fmt.Sprint("p", i))
	}
	if got := f.seen(""); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("second socket's updates reaching bob: %v, want %v", got, want)
	}
	// The updates past the pace were held, each replacing the one before:
	// once the pace allows, the last of them is applied, and only it.
	last := fmt.Sprint("p", together.PresenceUpdates+2)
	clock.Add(int64(time.Minute))
	if got := f.seen(last); len(got) != 1 {
		t.Errorf("held updates reaching bob once the pace allowed: %v, want only %s", got, last)
	}
	if me, _ := e.must(200, "GET", "/users/@me", ann.access, nil); me["custom_status"] != last {
		t.Errorf("ann's stored custom status %v, want %s", me["custom_status"], last)
	}
}

// TestTypingPaced: an account's sockets together act on 5*TypingPerSec
// TYPING_START frames at once (each a viewers lookup and an event to
// each viewer); the rest are dropped, a second socket adding nothing.
func TestTypingPaced(t *testing.T) {
	t.Parallel()
	f := newPacing(t)
	ann, cid, wb, one, two := f.ann, f.cid, f.wb, f.one, f.two
	typing := func(w *ws, n int) {
		for range n {
			w.send(map[string]any{"op": "TYPING_START", "d": map[string]string{"channel_id": cid}})
		}
	}
	// count reads bob's frames until ann's update marked mark (sent on
	// the same socket after the typing, so it arrives after any of it),
	// counting ann's typing on the way.
	count := func(w *ws, mark string) int {
		w.send(map[string]any{"op": "PRESENCE_UPDATE", "d": map[string]any{"status": "online", "custom_status": mark}})
		n := 0
		for {
			f := wb.waitFor("")
			var d struct {
				UserID       string  `json:"user_id"`
				CustomStatus *string `json:"custom_status"`
			}
			if json.Unmarshal(f.D, &d) != nil || d.UserID != ann.id {
				continue
			}
			if f.T == "TYPING_START" {
				n++
			}
			if f.T == "PRESENCE_UPDATE" && d.CustomStatus != nil && *d.CustomStatus == mark {
				return n
			}
		}
	}
	burst := 5 * together.TypingPerSec
	typing(one, burst-1)
	if got := count(one, "a"); got != burst-1 {
		t.Fatalf("first socket's typing: %d, want %d", got, burst-1)
	}
	typing(two, 4)
	if got := count(two, "b"); got != 1 {
		t.Errorf("second socket's typing reaching bob: %d, want 1 (the bucket's last)", got)
	}
}

// TestGatewaySocketsPerAccount: an account holds SocketsPerAccount gateway
// sockets on a node; the next is answered 429, another account's is not.
func TestGatewaySocketsPerAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.SocketsPerAccount = together.SocketsPerAccount })
	ann, bob := e.register("ann"), e.register("bob")
	for i := range together.SocketsPerAccount {
		if _, _, err := e.dial("token=" + ann.access); err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
	}
	if _, resp, err := e.dial("token=" + ann.access); err == nil || resp == nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("socket past the bound: %v %v, want 429 with Retry-After", resp, err)
	}
	if _, _, err := e.dial("token=" + bob.access); err != nil {
		t.Fatalf("another account's socket: %v", err)
	}
}

// TestProfileUpdatesPaced: PATCH /users/@me stores the profile at once but
// announces it within the account's presence pace (PresenceUpdates a
// minute, shared with its PRESENCE_UPDATE frames): the updates past it are
// held, each replacing the one before, and the last is announced once the
// pace allows. Each announcement is an event to everyone sharing a server
// with the account, and the REST route announced every update (measured
// on the binary: 1,000 in 1.15 s from one account).
func TestProfileUpdatesPaced(t *testing.T) {
	t.Parallel()
	f := newPacing(t)
	clock, e, ann, cid, two := f.clock, f.e, f.ann, f.cid, f.two
	n := together.PresenceUpdates + 10
	for i := range n {
		me, _ := e.must(200, "PATCH", "/users/@me", ann.access, map[string]any{"custom_status": fmt.Sprint("r", i)})
		if me["custom_status"] != fmt.Sprint("r", i) {
			t.Fatalf("update %d answered %v", i, me)
		}
	}
	two.send(map[string]any{"op": "TYPING_START", "d": map[string]string{"channel_id": cid}})
	want := []string{}
	for i := range together.PresenceUpdates {
		want = append(want, fmt.Sprint("r", i))
	}
	if got := f.seen(""); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("profile updates announced to bob: %v, want %v", got, want)
	}
	last := fmt.Sprint("r", n-1)
	if me, _ := e.must(200, "GET", "/users/@me", ann.access, nil); me["custom_status"] != last {
		t.Errorf("ann's stored custom status %v, want %s (stored at once)", me["custom_status"], last)
	}
	clock.Add(int64(time.Minute))
	if got := f.seen(last); len(got) != 1 {
		t.Errorf("held updates announced once the pace allowed: %v, want only %s", got, last)
	}
}

// TestPresenceUpdateReadAsTogether: a PRESENCE_UPDATE frame's data is read
// as Together's gateway reads it: a status that is absent or not a string
// is "online", a custom status or activity that is not a string is none,
// and no data at all is ignored. A bot sending {"activity": "…"} alone had
// its frame dropped here; on Together it shows online with that activity.
// The last frame is a marker: the updates before it have been announced.
func TestPresenceUpdateReadAsTogether(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bot := e.register("ann"), e.register("bot")
	e.serverWithChannel(ann, "general", bot)
	wa, _, err := e.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	wa.waitFor("READY")
	wb, _, err := e.dial("token=" + bot.access)
	if err != nil {
		t.Fatal(err)
	}
	wb.waitFor("READY")
	wb.send(map[string]any{"op": "PRESENCE_UPDATE", "d": map[string]any{"activity": "Playing chess", "custom_status": 5}})
	wb.send(map[string]any{"op": "PRESENCE_UPDATE", "d": nil})
	wb.send(map[string]any{"op": "PRESENCE_UPDATE", "d": map[string]any{"status": 7, "activity": "Playing go"}})
	wb.send(map[string]any{"op": "PRESENCE_UPDATE", "d": map[string]any{"status": "away", "custom_status": "end"}})
	type presence struct {
		UserID       string  `json:"user_id"`
		Status       string  `json:"status"`
		CustomStatus *string `json:"custom_status"`
		Activity     *string `json:"activity"`
	}
	var got []string
	for {
		var p presence
		if err := json.Unmarshal(wa.waitFor("PRESENCE_UPDATE").D, &p); err != nil || p.UserID != bot.id {
			continue
		}
		s := p.Status
		for _, v := range []*string{p.CustomStatus, p.Activity} {
			if v == nil {
				s += " -"
			} else {
				s += " " + *v
			}
		}
		if s == "online - -" && len(got) == 0 {
			continue // the bot's socket bringing it online
		}
		got = append(got, s)
		if p.CustomStatus != nil && *p.CustomStatus == "end" {
			break
		}
	}
	want := []string{"online - Playing chess", "online - Playing go", "away end -"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("ann saw the bot's presence as %q, want %q", got, want)
	}
}
