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
	s, _, _ := newService(t, stagechat.PresenceConfig{})
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

	g, err := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Delay: time.Millisecond, Throttle: time.Hour, Client: out})
	if err != nil {
		t.Fatal(err)
	}
	round := g.Sent()
	g.StreamChanged(true)
	<-round
	got := map[string]hit{}
	for len(got) < 3 {
		select {
		case h := <-hits:
			got[h.path] = h
		default:
			t.Fatalf("deliveries after the round: %v", got)
		}
	}
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

	// The throttle holds across nodes: another node's notifier (same
	// store) within it sends nothing, as for a stream that moved there.
	g2, _ := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Delay: time.Millisecond, Throttle: time.Hour, Client: out})
	round = g2.Sent()
	g2.StreamChanged(true)
	<-round
	if len(hits) != 0 {
		t.Fatalf("another node's round within the throttle sent %d", len(hits))
	}

	// The 410 subscription was forgotten: the next round (past a short
	// throttle) reaches only the live one.
	// It names the scheduled event the stream belongs to (Headline).
	g3, _ := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Delay: time.Millisecond, Throttle: time.Nanosecond, Client: out,
		Headline: func(context.Context) string { return "Tuesday build night" }})
	round = g3.Sent()
	g3.StreamChanged(true)
	<-round
	paths := map[string]int{}
	for len(hits) > 0 {
		h := <-hits
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
	if len(hits) != 0 {
		t.Fatalf("throttled round sent %d", len(hits))
	}
}

// TestScheduleReminderNotifications: a scheduled stream's reminder goes to
// the go-live channels (Discord with the server URL, a browser push under
// its own topic), as Owncast's scheduled-event notifications.
func TestScheduleReminderNotifications(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t, stagechat.PresenceConfig{})
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
	g, err := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Client: out})
	if err != nil {
		t.Fatal(err)
	}
	g.Remind(ctx, "Starting soon!\nShow: Sunday, March 1 at 6:00 AM PST")
	got := map[string]hit{}
	for len(got) < 2 {
		select {
		case h := <-hits:
			got[h.path] = h
		default:
			t.Fatalf("deliveries after the reminder: %v", got)
		}
	}
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
}

// TestGoLivePushesNotHeldByHangingServices: subscriptions whose push
// service never answers (any chat user may register one, on any host) do
// not hold back the others: a subscription registered after fifteen of
// them gets its push while all fifteen are still waiting. Sent one after
// another, it waited for each of them to time out in turn.
func TestGoLivePushesNotHeldByHangingServices(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t, stagechat.PresenceConfig{})
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
		PushTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	round := g.Sent()
	g.StreamChanged(true)
	select {
	case <-good:
	case <-time.After(hangGuard):
		t.Fatalf("the push registered last never went out while %d pushes hung", len(hanging))
	}
	// The hanging services answer at last, and the round ends.
	unblock()
	select {
	case <-round:
	case <-time.After(hangGuard):
		t.Fatal("the round did not end once every push service had answered")
	}
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
	s, _, _ := newService(t, stagechat.PresenceConfig{})
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
	g, err := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Delay: time.Millisecond, Throttle: time.Nanosecond, Client: out})
	if err != nil {
		t.Fatal(err)
	}
	round := g.Sent()
	g.StreamChanged(true)
	<-round
	select {
	case h := <-hits:
		if h.path != "/discord/hook" {
			t.Fatalf("delivery to %s", h.path)
		}
	default:
		t.Fatal("no go-live notification after a node died holding the last round's claim")
	}
}
