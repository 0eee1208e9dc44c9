package stagechat_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// notifyReceiver is a notification service recording each request it
// takes (hits, buffered n) and answering status(path), with the egress
// client allowed to reach it and nothing else.
func notifyReceiver(t *testing.T, n int, status func(path string) int) (chan hit, *httptest.Server, *egress.Client) {
	t.Helper()
	hits := make(chan hit, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits <- hit{r.URL.Path, r.Header.Clone(), b}
		w.WriteHeader(status(r.URL.Path))
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	target := netip.MustParseAddrPort(u.Host)
	out, err := egress.New(egress.Config{AllowAddr: func(ap netip.AddrPort) bool { return ap == target }})
	if err != nil {
		t.Fatal(err)
	}
	return hits, srv, out
}

type hit struct {
	path string
	hdr  http.Header
	body []byte
}

// nextHits waits for n requests to reach the receiver and returns them by
// path (the notifications are sent from the queue, after the round).
func nextHits(t *testing.T, hits <-chan hit, n int) map[string]hit {
	t.Helper()
	got := map[string]hit{}
	for range n {
		select {
		case h := <-hits:
			got[h.path] = h
		case <-time.After(hangGuard):
			t.Fatalf("%d of %d notifications arrived: %v", len(got), n, got)
		}
	}
	return got
}

// runGoLive runs g's sender until the test ends.
func runGoLive(t *testing.T, g *stagechat.GoLive) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = g.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually polls cond until it holds (a generous deadline only catches
// a hang).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pushSubscription is what a browser registers: its own key pair and auth
// secret, and an endpoint on the given push service.
func pushSubscription(t *testing.T, endpoint string) string {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	b, _ := json.Marshal(map[string]any{"endpoint": endpoint, "expirationTime": nil, "keys": map[string]string{
		"p256dh": base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), "auth": base64.RawURLEncoding.EncodeToString(auth)}})
	return string(b)
}

// TestGoLiveNotifications: after the delay, the Discord webhook gets
// Owncast's message and every registered browser subscription gets a Web
// Push with VAPID auth, both through the egress client; an expired
// subscription is forgotten; a second start within the throttle, on this
// node or another, sends nothing.
func TestGoLiveNotifications(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	s, _, _ := newServiceOn(t, db, stagechat.PresenceConfig{})
	ctx := context.Background()
	hits, srv, out := notifyReceiver(t, 16, func(path string) int {
		switch {
		case strings.HasSuffix(path, "/gone"):
			return http.StatusGone
		case strings.HasPrefix(path, "/push/"):
			return http.StatusCreated
		default:
			return http.StatusNoContent
		}
	})

	// Registration: only browser push, only usable subscriptions.
	for _, tc := range []struct{ channel, dest string }{
		{"SMS", pushSubscription(t, srv.URL+"/push/a")},
		{stagechat.ChannelBrowserPush, "not json"},
		{stagechat.ChannelBrowserPush, `{"endpoint":"` + srv.URL + `/push/a","keys":{"p256dh":"AAAA","auth":"AAAA"}}`},
		{stagechat.ChannelBrowserPush, strings.Repeat("x", 5000)},
	} {
		if err := s.RegisterNotification(ctx, tc.channel, tc.dest); !errors.Is(err, fault.Invalid) {
			t.Fatalf("register %q %.40q: %v", tc.channel, tc.dest, err)
		}
	}
	live, gone := pushSubscription(t, srv.URL+"/push/live"), pushSubscription(t, srv.URL+"/push/gone")
	for _, d := range []string{live, gone, live} {
		if err := s.RegisterNotification(ctx, stagechat.ChannelBrowserPush, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error {
		st.Name, st.StreamTitle, st.ServerURL = "Test Stage", "Building a thing", "https://stage.example"
		st.Notifications.Discord.Enabled, st.Notifications.Discord.Webhook = true, srv.URL+"/discord/hook"
		st.Notifications.Discord.GoLiveMessage = "We are live!"
		st.Notifications.Browser.Enabled, st.Notifications.Browser.GoLiveMessage = true, "I've gone live!"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.BrowserPushKeys(ctx)
	if err != nil || keys.PublicKey == "" {
		t.Fatalf("keys %v", err)
	}

	g, err := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Delay: time.Millisecond, Throttle: time.Hour, Client: out,
		Queue: db.WebhookQueue()})
	if err != nil {
		t.Fatal(err)
	}
	runGoLive(t, g)
	round := g.Sent()
	g.StreamChanged(true)
	<-round
	got := nextHits(t, hits, 3)
	var d map[string]string
	if err := json.Unmarshal(got["/discord/hook"].body, &d); err != nil {
		t.Fatal(err)
	}
	if d["content"] != "We are live!\nBuilding a thing\n\nhttps://stage.example" || d["username"] != "Test Stage" ||
		d["avatar_url"] != "https://stage.example/logo" {
		t.Fatalf("discord message %v", d)
	}
	p := got["/push/live"]
	if p.hdr.Get("Content-Encoding") != "aes128gcm" || !strings.HasSuffix(p.hdr.Get("Authorization"), ", k="+keys.PublicKey) ||
		p.hdr.Get("Topic") != "owncast-go-live" || len(p.body) < 86 {
		t.Fatalf("push %v (%d bytes)", p.hdr, len(p.body))
	}
	if _, ok := got["/push/gone"]; !ok {
		t.Fatal("no push to the expiring subscription")
	}
	// The 410 subscription is forgotten (after its answer).
	eventually(t, "the gone subscription forgotten", func() bool {
		ds, err := db.StageChat().NotificationDestinations(ctx, stagechat.ChannelBrowserPush)
		return err == nil && len(ds) == 1 && ds[0] == live
	})

	// The throttle holds across nodes: another node's notifier (same
	// store) within it queues nothing, as for a stream that moved there.
	g2, _ := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Delay: time.Millisecond, Throttle: time.Hour, Client: out,
		Queue: db.WebhookQueue()})
	round = g2.Sent()
	g2.StreamChanged(true)
	<-round

	// The next round (past a short throttle) reaches only the live
	// subscription, and it names the scheduled event the stream belongs
	// to (Headline). Had the throttled round queued anything, it would be
	// sent before this one's, and counted here.
	g3, _ := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Delay: time.Millisecond, Throttle: time.Nanosecond, Client: out,
		Queue: db.WebhookQueue(), Headline: func(context.Context) string { return "Tuesday build night" }})
	round = g3.Sent()
	g3.StreamChanged(true)
	<-round
	paths := map[string]int{}
	for _, h := range nextHitsList(t, hits, 2) {
		paths[h.path]++
		if h.path == "/discord/hook" {
			if err := json.Unmarshal(h.body, &d); err != nil || d["content"] != "We are live!\nTuesday build night\nBuilding a thing\n\nhttps://stage.example" {
				t.Fatalf("discord message with a scheduled event %v %v", d, err)
			}
		}
	}
	if paths["/push/live"] != 1 || paths["/push/gone"] != 0 || paths["/discord/hook"] != 1 {
		t.Fatalf("second round %v", paths)
	}
	// Within the throttle: a restart notifies nobody.
	round = g2.Sent()
	g2.StreamChanged(false)
	g2.StreamChanged(true)
	<-round
	// Nothing is queued behind it: a reminder queued after the throttled
	// round is the next thing the receiver sees.
	if won, err := g.Remind(ctx, "schedule-reminder:test", "soon"); err != nil || !won {
		t.Fatalf("remind: %v %v", won, err)
	}
	for _, h := range nextHitsList(t, hits, 2) {
		if h.path == "/discord/hook" {
			if err := json.Unmarshal(h.body, &d); err != nil || d["content"] != "soon\n\nhttps://stage.example" {
				t.Fatalf("after a throttled round, discord got %v %v", d, err)
			}
		}
	}
}

// nextHitsList waits for n requests to reach the receiver, in order.
func nextHitsList(t *testing.T, hits <-chan hit, n int) []hit {
	t.Helper()
	var got []hit
	for range n {
		select {
		case h := <-hits:
			got = append(got, h)
		case <-time.After(hangGuard):
			t.Fatalf("%d of %d notifications arrived", len(got), n)
		}
	}
	return got
}

// TestScheduleReminderNotifications: a scheduled stream's reminder goes to
// the go-live channels (Discord with the server URL, a browser push under
// its own topic), as Owncast's scheduled-event notifications, once per
// key on any node.
func TestScheduleReminderNotifications(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	s, _, _ := newServiceOn(t, db, stagechat.PresenceConfig{})
	ctx := context.Background()
	hits, srv, out := notifyReceiver(t, 4, func(string) int { return http.StatusCreated })
	if err := s.RegisterNotification(ctx, stagechat.ChannelBrowserPush, pushSubscription(t, srv.URL+"/push/a")); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error {
		st.Name, st.ServerURL = "Test Stage", "https://stage.example"
		st.Notifications.Discord.Enabled, st.Notifications.Discord.Webhook = true, srv.URL+"/discord/hook"
		st.Notifications.Browser.Enabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	g, err := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Client: out, Queue: db.WebhookQueue()})
	if err != nil {
		t.Fatal(err)
	}
	runGoLive(t, g)
	const key = "schedule-reminder:e1:2026-03-01T14:00:00Z"
	if won, err := g.Remind(ctx, key, "Starting soon!\nShow: Sunday, March 1 at 6:00 AM PST"); err != nil || !won {
		t.Fatalf("remind: %v %v", won, err)
	}
	got := nextHits(t, hits, 2)
	var d map[string]string
	if err := json.Unmarshal(got["/discord/hook"].body, &d); err != nil {
		t.Fatal(err)
	}
	if d["content"] != "Starting soon!\nShow: Sunday, March 1 at 6:00 AM PST\n\nhttps://stage.example" {
		t.Fatalf("discord reminder %q", d["content"])
	}
	if p := got["/push/a"]; p.hdr.Get("Topic") != "owncast-schedule-reminder" || len(p.body) < 86 {
		t.Fatalf("push reminder %v", p.hdr)
	}
	// Another node's loop finds it claimed.
	if won, err := g.Remind(ctx, key, "Starting soon!"); err != nil || won {
		t.Fatalf("second remind: %v %v", won, err)
	}
}

// TestGoLivePushesNotHeldByHangingServices: subscriptions whose push
// service never answers (any chat user may register one, on any host) do
// not hold back the others: a subscription registered after fifteen of
// them gets its push while all fifteen are still waiting. Sent one after
// another, it waited for each of them to time out in turn.
func TestGoLivePushesNotHeldByHangingServices(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	s, _, _ := newServiceOn(t, db, stagechat.PresenceConfig{})
	ctx := context.Background()
	release := make(chan struct{})
	hanging := make(chan struct{}, 64)
	good := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/hang/") {
			hanging <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		good <- struct{}{}
		w.WriteHeader(http.StatusCreated)
	}))
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(srv.Close)
	t.Cleanup(unblock) // before srv.Close, which waits for its handlers
	u, _ := url.Parse(srv.URL)
	target := netip.MustParseAddrPort(u.Host)
	out, err := egress.New(egress.Config{AllowAddr: func(ap netip.AddrPort) bool { return ap == target }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 15 {
		if err := s.RegisterNotification(ctx, stagechat.ChannelBrowserPush, pushSubscription(t, srv.URL+"/hang/"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RegisterNotification(ctx, stagechat.ChannelBrowserPush, pushSubscription(t, srv.URL+"/push/late")); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error {
		st.Name, st.Notifications.Browser.Enabled, st.Notifications.Browser.GoLiveMessage = "Test Stage", true, "live"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A push that waited for the hanging ones would come after 15 of these.
	g, err := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Delay: time.Millisecond, Throttle: time.Hour, Client: out,
		PushTimeout: time.Hour, Queue: db.WebhookQueue()})
	if err != nil {
		t.Fatal(err)
	}
	runGoLive(t, g)
	g.StreamChanged(true)
	select {
	case <-good:
	case <-time.After(hangGuard):
		t.Fatalf("the push registered last never went out while %d pushes hung", len(hanging))
	}
	unblock()
}

// TestGoLiveRoundAfterClaimerDied: a node killed just after claiming a
// round of go-live notifications (its claim stored, nothing else) does not
// stop later rounds: the next stream start past the throttle notifies.
// Before, the last round was a separate record written after the claim, so
// the dead node left the claim taken and the record unmoved, and every
// later round on every node lost that claim until it was pruned (a day or
// more).
func TestGoLiveRoundAfterClaimerDied(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	s, _, _ := newServiceOn(t, db, stagechat.PresenceConfig{})
	ctx := context.Background()
	hits, srv, out := notifyReceiver(t, 4, func(string) int { return http.StatusNoContent })
	if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error {
		st.Notifications.Discord.Enabled, st.Notifications.Discord.Webhook = true, srv.URL+"/discord/hook"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The dead node's claim of the first round.
	if won, err := s.ClaimOnce(ctx, "golive:"); err != nil || !won {
		t.Fatalf("dead node's claim: %v %v", won, err)
	}
	g, err := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Delay: time.Millisecond, Throttle: time.Nanosecond, Client: out,
		Queue: db.WebhookQueue()})
	if err != nil {
		t.Fatal(err)
	}
	runGoLive(t, g)
	round := g.Sent()
	g.StreamChanged(true)
	<-round
	if h := nextHitsList(t, hits, 1)[0]; h.path != "/discord/hook" {
		t.Fatalf("delivery to %s", h.path)
	}
}

// hangingDoer answers no request until the request's context ends; each
// request it takes is signalled on started (without blocking).
type hangingDoer struct{ started chan struct{} }

func (d hangingDoer) Do(r *http.Request) (*http.Response, error) {
	select {
	case d.started <- struct{}{}:
	default:
	}
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// TestGoLiveRoundSurvivesItsNode: a round of go-live notifications, or a
// scheduled stream's reminder, claimed by a node that dies before its
// notifications are sent is sent by another node (at least once): the
// claim and the notifications are stored in one transaction, in the
// durable queue, and every node's sender takes up what is due. The dying
// node either never sends (killed just after the claim) or is shut down
// while its push services and Discord hang. Before, the claiming node sent
// the round itself, so its death lost the round for everyone: the next
// node found it claimed, and the next stream start within the throttle
// notified nobody. On SQLite and PostgreSQL.
func TestGoLiveRoundSurvivesItsNode(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		for _, tc := range []struct {
			name     string
			reminder bool
			midSend  bool // the dying node's sender takes the notifications and hangs
		}{
			{name: "round, killed after the claim"},
			{name: "round, stopped mid-send", midSend: true},
			{name: "reminder, killed after the claim", reminder: true},
			{name: "reminder, stopped mid-send", reminder: true, midSend: true},
		} {
			t.Run(eng.Name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				db := eng.Open(t)
				ctx := context.Background()
				hits, srv, out := notifyReceiver(t, 8, func(string) int { return http.StatusCreated })
				dying, _, _ := newServiceOn(t, db, stagechat.PresenceConfig{})
				if err := dying.RegisterNotification(ctx, stagechat.ChannelBrowserPush, pushSubscription(t, srv.URL+"/push/a")); err != nil {
					t.Fatal(err)
				}
				if err := dying.UpdateSettings(ctx, func(st *stagechat.Settings) error {
					st.Name, st.StreamTitle, st.ServerURL = "Test Stage", "Building a thing", "https://stage.example"
					st.Notifications.Discord.Enabled, st.Notifications.Discord.Webhook = true, srv.URL+"/discord/hook"
					st.Notifications.Discord.GoLiveMessage = "We are live!"
					st.Notifications.Browser.Enabled, st.Notifications.Browser.GoLiveMessage = true, "I've gone live!"
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				keys, err := dying.BrowserPushKeys(ctx)
				if err != nil {
					t.Fatal(err)
				}

				// The dying node: its requests never get an answer.
				life, kill := context.WithCancel(context.Background())
				defer kill()
				doer := hangingDoer{started: make(chan struct{}, 1)}
				ga, err := stagechat.NewGoLive(dying, stagechat.GoLiveConfig{Delay: time.Millisecond, Throttle: time.Hour,
					Client: doer, Queue: db.WebhookQueue(), Life: life})
				if err != nil {
					t.Fatal(err)
				}
				stopped := make(chan struct{})
				if tc.midSend {
					go func() { _ = ga.Run(life); close(stopped) }()
				} else {
					close(stopped)
				}
				want := "We are live!\nBuilding a thing\n\nhttps://stage.example"
				if tc.reminder {
					want = "Starting soon!\n\nhttps://stage.example"
					if won, err := ga.Remind(ctx, "schedule-reminder:e1", "Starting soon!"); err != nil || !won {
						t.Fatalf("remind: %v %v", won, err)
					}
				} else {
					round := ga.Sent()
					ga.StreamChanged(true)
					<-round
				}
				if tc.midSend {
					<-doer.started
				}
				kill()
				<-stopped

				// Another node (or the same one restarted) sends them.
				survivor, _, _ := newServiceOn(t, db, stagechat.PresenceConfig{})
				gb, err := stagechat.NewGoLive(survivor, stagechat.GoLiveConfig{Delay: time.Millisecond, Throttle: time.Hour,
					Client: out, Queue: db.WebhookQueue()})
				if err != nil {
					t.Fatal(err)
				}
				runGoLive(t, gb)
				got := nextHits(t, hits, 2)
				var d map[string]string
				if err := json.Unmarshal(got["/discord/hook"].body, &d); err != nil || d["content"] != want ||
					d["username"] != "Test Stage" || d["avatar_url"] != "https://stage.example/logo" {
					t.Fatalf("discord message %v %v", d, err)
				}
				topic := "owncast-go-live"
				if tc.reminder {
					topic = "owncast-schedule-reminder"
				}
				p := got["/push/a"]
				if p.hdr.Get("Content-Encoding") != "aes128gcm" || !strings.HasSuffix(p.hdr.Get("Authorization"), ", k="+keys.PublicKey) ||
					p.hdr.Get("Topic") != topic || p.hdr.Get("TTL") != "120" || len(p.body) < 86 {
					t.Fatalf("push %v (%d bytes)", p.hdr, len(p.body))
				}
				// The round is still the dying node's: the survivor's own
				// stream start within the throttle claims none.
				if !tc.reminder {
					round := gb.Sent()
					gb.StreamChanged(true)
					<-round
					if won, err := gb.Remind(ctx, "schedule-reminder:after", "after"); err != nil || !won {
						t.Fatalf("remind: %v %v", won, err)
					}
					for _, h := range nextHitsList(t, hits, 2) {
						if err := json.Unmarshal(h.body, &d); h.path == "/discord/hook" && (err != nil || d["content"] != "after\n\nhttps://stage.example") {
							t.Fatalf("a second round went out: %s", h.body)
						}
					}
				}
			})
		}
	}
}

// TestQueuedDiscordFollowsTheSettings: a Discord notification still
// queued when the admin replaces the webhook is dropped, not sent to the
// old one; the next goes to the new one.
func TestQueuedDiscordFollowsTheSettings(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	s, _, _ := newServiceOn(t, db, stagechat.PresenceConfig{})
	ctx := context.Background()
	hits, srv, out := notifyReceiver(t, 8, func(string) int { return http.StatusNoContent })
	setHook := func(path string) {
		t.Helper()
		if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error {
			st.Notifications.Discord.Enabled, st.Notifications.Discord.Webhook = true, srv.URL+path
			st.Notifications.Browser.Enabled = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RegisterNotification(ctx, stagechat.ChannelBrowserPush, pushSubscription(t, srv.URL+"/push/a")); err != nil {
		t.Fatal(err)
	}
	setHook("/discord/old")
	g, err := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Client: out, Queue: db.WebhookQueue()})
	if err != nil {
		t.Fatal(err)
	}
	if won, err := g.Remind(ctx, "schedule-reminder:1", "one"); err != nil || !won {
		t.Fatalf("remind: %v %v", won, err)
	}
	setHook("/discord/new")
	runGoLive(t, g)
	if won, err := g.Remind(ctx, "schedule-reminder:2", "two"); err != nil || !won {
		t.Fatalf("remind: %v %v", won, err)
	}
	paths := map[string]int{}
	for _, h := range nextHitsList(t, hits, 3) {
		paths[h.path]++
	}
	if paths["/discord/old"] != 0 || paths["/discord/new"] != 1 || paths["/push/a"] != 2 {
		t.Fatalf("deliveries %v", paths)
	}
}
