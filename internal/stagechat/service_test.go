package stagechat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// capture is a Publisher that records chat events.
type capture struct {
	mu     sync.Mutex
	events []stagechat.Event
	got    chan struct{}
}

func (c *capture) Publish(_ context.Context, topic string, data []byte) error {
	var e stagechat.Event
	if json.Unmarshal(data, &e) != nil || e.Type == "" {
		return nil
	}
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	select {
	case c.got <- struct{}{}:
	default:
	}
	return nil
}

func (c *capture) ofType(typ string) []stagechat.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []stagechat.Event
	for _, e := range c.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func newService(t *testing.T, pc stagechat.PresenceConfig) (*stagechat.Service, *capture, *identity.Service) {
	t.Helper()
	return newServiceOn(t, storetest.Engines()[0].Open(t), pc)
}

// newServiceOn is newService on db: another node on the same database, or
// another engine.
func newServiceOn(t *testing.T, db *store.DB, pc stagechat.PresenceConfig) (*stagechat.Service, *capture, *identity.Service) {
	t.Helper()
	ctx := context.Background()
	idn, err := identity.New(ctx, identity.Config{}, db.Identity(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := messages.New(db.Messages(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := &capture{got: make(chan struct{}, 1)}
	s, err := stagechat.New(ctx, stagechat.Config{Defaults: stagechat.DefaultSettings(), Presence: pc}, db.StageChat(), idn, msgs, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Presence().Close)
	return s, pub, idn
}

func waitFor(t *testing.T, pub *capture, cond func() bool) {
	t.Helper()
	deadline := time.After(hangGuard)
	for !cond() {
		select {
		case <-pub.got:
		case <-deadline:
			t.Fatal("condition not met within 10s")
		}
	}
}

// TestPresenceCoalesces: a crowd joining at once is announced in one event
// naming at most Burst users, while the local hook (webhooks) hears of all.
func TestPresenceCoalesces(t *testing.T) {
	t.Parallel()
	s, pub, _ := newService(t, stagechat.PresenceConfig{Window: 50 * time.Millisecond, Burst: 10, PartDelay: time.Hour})
	var hooked sync.Map
	var hookCount int
	var hmu sync.Mutex
	s.SetHook(func(e stagechat.Event) {
		if e.Type == stagechat.EventJoined {
			hmu.Lock()
			for _, u := range e.Users {
				hooked.Store(u.ID, true)
				hookCount++
			}
			hmu.Unlock()
		}
	})
	ctx := context.Background()
	u0 := &stagechat.User{ID: "before-online"}
	if s.Presence().Connect(u0); len(pub.ofType(stagechat.EventJoined)) != 0 {
		t.Fatal("join announced while offline")
	}
	s.Presence().SetOnline(ctx, true)
	const n = 2000
	const window = 50 * time.Millisecond
	start := time.Now()
	for i := range n {
		s.Presence().Connect(&stagechat.User{ID: "u" + string(rune(i)), DisplayName: "user"})
	}
	// However slow the machine, one announcement goes out per window the
	// joins spanned (and one for the window still open at the end): the
	// bound follows the time the loop took, not a fixed count.
	windows := int(time.Since(start)/window) + 2
	covered := func() int {
		total := 0
		for _, e := range pub.ofType(stagechat.EventJoined) {
			total += len(e.Users) + e.Extra
		}
		return total
	}
	waitFor(t, pub, func() bool {
		hmu.Lock()
		defer hmu.Unlock()
		return covered() == n && hookCount == n
	})
	hmu.Lock()
	defer hmu.Unlock()
	joined := pub.ofType(stagechat.EventJoined)
	for _, e := range joined {
		if len(e.Users) > 10 {
			t.Fatalf("announcement names %d users, burst is 10", len(e.Users))
		}
	}
	if len(joined) > windows {
		t.Fatalf("%d announcements for joins spanning %d windows", len(joined), windows)
	}
	if s.Presence().Connected() != n+1 {
		t.Fatalf("connected %d", s.Presence().Connected())
	}
}

func TestPresencePartDelay(t *testing.T) {
	t.Parallel()
	s, pub, _ := newService(t, stagechat.PresenceConfig{Window: 10 * time.Millisecond, PartDelay: 100 * time.Millisecond})
	u := &stagechat.User{ID: "a"}
	p := s.Presence()
	if !p.Connect(u) || p.Connect(u) {
		t.Fatal("first/second connection reporting")
	}
	p.Disconnect(u)
	p.Disconnect(u)
	if p.Connect(u) { // a reconnect within the delay cancels the part
		t.Fatal("reconnect counted as a first connection")
	}
	p.Disconnect(u)
	waitFor(t, pub, func() bool { return len(pub.ofType(stagechat.EventParted)) == 1 })
	if e := pub.ofType(stagechat.EventParted)[0]; len(e.Users) != 1 || e.Users[0].ID != "a" {
		t.Fatalf("part %+v", e)
	}
}

func TestFlood(t *testing.T) {
	t.Parallel()
	f := stagechat.NewFlood(1.5, 10*time.Second)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at   time.Duration
		want stagechat.Verdict
	}{
		{0, stagechat.Allowed}, {100 * time.Millisecond, stagechat.Flooded}, {time.Second, stagechat.Blocked},
		{9 * time.Second, stagechat.Blocked}, {10200 * time.Millisecond, stagechat.Allowed}, {10900 * time.Millisecond, stagechat.Allowed},
	}
	for _, s := range steps {
		if got := f.Check(t0.Add(s.at)); got != s.want {
			t.Fatalf("at %v: %v, want %v", s.at, got, s.want)
		}
	}
	if stagechat.NewFlood(0, time.Second).Check(t0) != stagechat.Allowed {
		t.Fatal("disabled limiter refused")
	}
}

func TestRulesAndStore(t *testing.T) {
	t.Parallel()
	s, _, idn := newService(t, stagechat.PresenceConfig{})
	ctx := context.Background()
	a, tokA, err := s.Register(ctx, "Ann", "", nil)
	if err != nil || a.DisplayName != "Ann" || tokA == "" {
		t.Fatalf("register %+v %v", a, err)
	}
	b, _, err := s.Register(ctx, "ann", "", nil) // taken, case-insensitively
	if err != nil || b.DisplayName == "ann" || b.DisplayName == "" {
		t.Fatalf("duplicate name granted: %+v %v", b, err)
	}
	if got, err := s.Authenticate(ctx, tokA); err != nil || got.ID != a.ID {
		t.Fatalf("authenticate %v", err)
	}
	for _, bad := range []string{"", "nope", "' OR 1=1--"} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, fault.Unauthorized) {
			t.Fatalf("token %q: %v", bad, err)
		}
	}
	if _, _, err := s.ChangeName(ctx, b, "ANN"); !errors.Is(err, stagechat.ErrNameTaken) {
		t.Fatalf("rename to taken: %v", err)
	}
	if _, _, err := s.ChangeName(ctx, b, "System"); !errors.Is(err, stagechat.ErrNameForbidden) {
		t.Fatalf("rename to forbidden: %v", err)
	}
	nb, old, err := s.ChangeName(ctx, b, "a-very-long-name-that-goes-past-thirty-characters")
	if err != nil || len([]rune(nb.DisplayName)) != 30 || old != b.DisplayName || len(nb.PreviousNames) != 1 || nb.NameChangedAt == nil {
		t.Fatalf("rename %+v %q %v", nb, old, err)
	}
	if stored, _ := s.User(ctx, b.ID); stored.DisplayName != nb.DisplayName || stored.PreviousNames[0] != old {
		t.Fatalf("rename not stored: %+v", stored)
	}
	if _, err := s.ChangeColor(ctx, a, 9); !errors.Is(err, fault.Invalid) {
		t.Fatalf("bad colour: %v", err)
	}
	m, err := s.Send(ctx, a, "  hello  ")
	if err != nil || m.Body != "hello" || stagechat.KindOf(m) != stagechat.KindChat {
		t.Fatalf("send %+v %v", m, err)
	}
	if m, err := s.Send(ctx, a, "   "); m != nil || err != nil {
		t.Fatalf("empty body: %v %v", m, err)
	}
	if _, err := s.SetModerator(ctx, a.ID, true); err != nil {
		t.Fatal(err)
	}
	if mods, _ := s.Users(ctx, stagechat.Moderators); len(mods) != 1 || !mods[0].IsModerator() {
		t.Fatalf("moderators %+v", mods)
	}
	if err := s.SetEnabled(ctx, b.ID, false); err != nil {
		t.Fatal(err)
	}
	if acct, _ := idn.Account(ctx, b.ID); !acct.Disabled() {
		t.Fatal("account not disabled")
	}
	if dis, _ := s.Users(ctx, stagechat.DisabledUsers); len(dis) != 1 || dis[0].ID != b.ID {
		t.Fatalf("disabled %+v", dis)
	}
	if err := s.BanIP(ctx, "::ffff:10.1.2.3", ""); err != nil {
		t.Fatal(err)
	}
	if banned, _ := s.IPBanned(ctx, "10.1.2.3"); !banned {
		t.Fatal("mapped address ban not applied to the IPv4 form")
	}
	if err := s.BanIP(ctx, "10.1.2.3'; --", ""); !errors.Is(err, fault.Invalid) {
		t.Fatalf("bad IP: %v", err)
	}
	pool := []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"}
	if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error { st.SuggestedUsernames = pool; return nil }); err != nil {
		t.Fatal(err)
	}
	if g, _, err := s.Register(ctx, "", "", nil); err != nil || !slices.Contains(pool, g.DisplayName) {
		t.Fatalf("name not from the suggested pool: %+v %v", g, err)
	}
	if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error { st.ChatDisabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, a, "x"); !errors.Is(err, stagechat.ErrChatDisabled) {
		t.Fatalf("send while disabled: %v", err)
	}
	if err := s.ReloadSettings(ctx); err != nil || !s.Settings().ChatDisabled {
		t.Fatalf("settings not durable: %v", err)
	}
}

// TestRequireAuthentication: with chat/requireauthentication on, a guest
// cannot send; a signed-in user, a moderator and a bot can; off again,
// the guest can.
func TestRequireAuthentication(t *testing.T) {
	t.Parallel()
	s, _, idn := newService(t, stagechat.PresenceConfig{})
	ctx := context.Background()
	guest, _, err := s.Register(ctx, "Guest", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := idn.CreateGuest(ctx, "Signed")
	if err != nil {
		t.Fatal(err)
	}
	signed, _, err := s.Register(ctx, "Signed", "", &identity.Principal{Account: acct, SessionID: identity.NewID()})
	if err != nil || signed.AuthenticatedAt == nil {
		t.Fatalf("signed-in registration %+v %v", signed, err)
	}
	mod, _, err := s.Register(ctx, "Mod", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if mod, err = s.SetModerator(ctx, mod.ID, true); err != nil {
		t.Fatal(err)
	}
	set := func(on bool) {
		t.Helper()
		if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error { st.ChatRequireAuthentication = on; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	set(true)
	for _, c := range []struct {
		name string
		u    *stagechat.User
		want error
	}{
		{"guest", guest, stagechat.ErrNotAuthenticated},
		{"signed in", signed, nil},
		{"moderator", mod, nil},
	} {
		if _, err := s.Send(ctx, c.u, "hello"); !errors.Is(err, c.want) && (c.want != nil || err != nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	set(false)
	if _, err := s.Send(ctx, guest, "hello"); err != nil {
		t.Fatalf("guest with the rule off: %v", err)
	}
}

// TestPreviousNamesBounded: a chat user keeps its MaxPreviousNames newest
// earlier names, stored and in the user it gets back.
func TestPreviousNamesBounded(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t, stagechat.PresenceConfig{})
	ctx := context.Background()
	u, _, err := s.Register(ctx, "n0", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := stagechat.MaxPreviousNames + 5
	for i := 1; i <= n; i++ {
		if u, _, err = s.ChangeName(ctx, u, fmt.Sprint("n", i)); err != nil {
			t.Fatalf("rename %d: %v", i, err)
		}
	}
	want := []string{}
	for i := n - stagechat.MaxPreviousNames; i < n; i++ {
		want = append(want, fmt.Sprint("n", i))
	}
	if fmt.Sprint(u.PreviousNames) != fmt.Sprint(want) {
		t.Errorf("previous names %v, want %v", u.PreviousNames, want)
	}
	s.Forget(u.ID)
	stored, err := s.User(ctx, u.ID)
	if err != nil || fmt.Sprint(stored.PreviousNames) != fmt.Sprint(want) {
		t.Errorf("stored previous names %v %v, want %v", stored.PreviousNames, err, want)
	}
}

// TestChatNameTakenInEverySpelling: a chat name is taken whatever case,
// accent encoding or compatibility form spells it, so no one chats under
// a name that looks like another chat user's; a forbidden name likewise.
func TestChatNameTakenInEverySpelling(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			s, _, _ := newServiceOn(t, eng.Open(t), stagechat.PresenceConfig{})
			ctx := context.Background()
			if a, _, err := s.Register(ctx, "Zoë Admin", "", nil); err != nil || a.DisplayName != "Zoë Admin" {
				t.Fatalf("register %+v %v", a, err)
			}
			b, _, err := s.Register(ctx, "", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"zoë admin", "ZOË ADMIN", "Zoe\u0308 Admin", "Zoë Ａｄｍｉｎ"} {
				if _, _, err := s.ChangeName(ctx, b, name); !errors.Is(err, stagechat.ErrNameTaken) {
					t.Errorf("rename to %q: err = %v, want ErrNameTaken", name, err)
				}
				c, _, err := s.Register(ctx, name, "", nil)
				if err != nil {
					t.Fatal(err)
				}
				if c.DisplayName == name {
					t.Errorf("register as %q: granted; want a generated name", name)
				}
			}
			if _, _, err := s.ChangeName(ctx, b, "ＳＹＳＴＥＭ"); !errors.Is(err, stagechat.ErrNameForbidden) {
				t.Errorf("rename to a full-width forbidden name: err = %v, want ErrNameForbidden", err)
			}
		})
	}
}
