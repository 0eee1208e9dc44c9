package federation_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-fed/httpsig"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// inbox counts the activities POSTed to it.
type inbox struct {
	srv *httptest.Server
	mu  sync.Mutex
	ids map[string]int
	got chan string
}

func newInbox(t *testing.T) *inbox {
	in := &inbox{ids: map[string]int{}, got: make(chan string, 100)}
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var act struct{ ID string }
		_ = json.Unmarshal(b, &act)
		in.mu.Lock()
		in.ids[act.ID]++
		in.mu.Unlock()
		in.got <- act.ID
		w.WriteHeader(202)
	}))
	t.Cleanup(in.srv.Close)
	return in
}

// node is one node's federation service and the delivery engine it
// queues on.
type node struct {
	*federation.Service
	engine *webhooks.Engine
}

func newService(t *testing.T, db *store.DB, cfg federation.Config) node {
	t.Helper()
	out, err := egress.New(egress.Config{AllowAddr: func(ap netip.AddrPort) bool { return ap.Addr().IsLoopback() }})
	if err != nil {
		t.Fatal(err)
	}
	e, err := webhooks.NewEngine(webhooks.EngineConfig{Poll: 10 * time.Millisecond}, db.WebhookQueue(), out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Settings == nil {
		cfg.Settings = func() federation.Settings {
			return federation.Settings{Enabled: true, Username: "streamer", ServerURL: "https://stage.example", Name: "Stage",
				GoLiveMessage: "I've gone live!"}
		}
	}
	s, err := federation.New(cfg, db.Federation(), e, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	return node{s, e}
}

func addFollower(t *testing.T, db *store.DB, iri, inbox string) {
	t.Helper()
	now := time.Now().UTC()
	if err := db.Federation().PutFollower(context.Background(), &federation.Follower{Actor: "streamer", IRI: iri,
		Inbox: inbox, CreatedAt: now, ApprovedAt: &now}); err != nil {
		t.Fatal(err)
	}
}

// run runs the node's delivery engine.
func run(t *testing.T, n node) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = n.engine.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// drained waits until no federation delivery is left in the queue.
func drained(t *testing.T, db *store.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM webhook_deliveries WHERE kind = $1`,
			federation.DeliveryKind).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still queued", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wait(t *testing.T, in *inbox, n int) {
	t.Helper()
	for range n {
		select {
		case <-in.got:
		case <-time.After(30 * time.Second):
			t.Fatal("delivery did not arrive")
		}
	}
}

// TestDeliverySurvivesRestart: a post queued by a node that stops before
// sending is sent by the next node to start over the same database, and
// the key it signs with is the one the first node stored.
func TestDeliverySurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			db := e.Open(t)
			in := newInbox(t)
			addFollower(t, db, "https://peer.example/users/a", in.srv.URL+"/inbox")
			first := newService(t, db, federation.Config{})
			pem1, err := first.PublicKeyPEM(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := first.SendPublic(context.Background(), "queued before the restart"); err != nil {
				t.Fatal(err)
			}
			second := newService(t, db, federation.Config{})
			pem2, err := second.PublicKeyPEM(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if pem1 != pem2 {
				t.Fatal("the second node generated its own key")
			}
			run(t, second)
			wait(t, in, 1)
		})
	}
}

// TestDeliveryOncePerCluster: two nodes over one database both run the
// queue; every activity reaches the inbox exactly once.
func TestDeliveryOncePerCluster(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			db := e.Open(t)
			in := newInbox(t)
			addFollower(t, db, "https://peer.example/users/a", in.srv.URL+"/inbox")
			a, b := newService(t, db, federation.Config{}), newService(t, db, federation.Config{})
			stopA, stopB := run(t, a), run(t, b)
			const posts = 6
			for i := range posts {
				s := a
				if i%2 == 1 {
					s = b
				}
				if err := s.SendPublic(context.Background(), "post"); err != nil {
					t.Fatal(err)
				}
			}
			wait(t, in, posts)
			// The inbox counts a post before it answers; a node stopped
			// between the two hands the post back (it never saw the
			// answer) and the other node sends it again. That is the
			// queue's at-least-once promise, not a second claim: stop
			// only once every answer is recorded.
			drained(t, db)
			stopA()
			stopB()
			in.mu.Lock()
			defer in.mu.Unlock()
			if len(in.ids) != posts {
				t.Fatalf("distinct activities = %d, want %d", len(in.ids), posts)
			}
			for id, n := range in.ids {
				if n != 1 {
					t.Errorf("%s delivered %d times", id, n)
				}
			}
		})
	}
}

// TestDeliveryQueueBoundedPerInbox: a dead inbox keeps only the newest
// PerInbox deliveries.
func TestDeliveryQueueBoundedPerInbox(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			db := e.Open(t)
			addFollower(t, db, "https://dead.example/users/a", "https://dead.example/inbox")
			s := newService(t, db, federation.Config{PerInbox: 3})
			for range 10 {
				if err := s.SendPublic(context.Background(), "into the void"); err != nil {
					t.Fatal(err)
				}
			}
			now := time.Now().Add(time.Minute)
			ds, err := db.WebhookQueue().ClaimFairly(context.Background(), []string{federation.DeliveryKind}, now, now.Add(time.Minute), 100, 100, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 3 {
				t.Fatalf("queued for the dead inbox: %d, want 3", len(ds))
			}
			again, err := db.WebhookQueue().ClaimFairly(context.Background(), []string{federation.DeliveryKind}, now, now.Add(time.Minute), 100, 100, nil)
			if err != nil || len(again) != 0 {
				t.Fatalf("claimed twice: %d %v", len(again), err)
			}
		})
	}
}

func TestSendPublicRefusedWhenDisabled(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	s := newService(t, db, federation.Config{Settings: func() federation.Settings {
		return federation.Settings{Username: "streamer", ServerURL: "https://x.example"}
	}})
	if err := s.SendPublic(context.Background(), "hi"); err == nil {
		t.Fatal("posted while federation is disabled")
	}
}

// TestStageChannelActors: each stage channel is its own actor with its own
// followers and go-live posts, and the admin can switch it off.
func TestStageChannelActors(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	const ch = "0190a0b0-c0d0-7e0f-8000-000000000001"
	s := newService(t, db, federation.Config{StageChannel: func(_ context.Context, id string) (federation.StageChannelInfo, bool) {
		return federation.StageChannelInfo{Name: "Music Stage", Public: true}, id == ch
	}})
	ctx := context.Background()
	user := federation.StagePrefix + ch
	wf, err := s.WebFinger(ctx, "acct:"+user+"@stage.example")
	if err != nil {
		t.Fatal(err)
	}
	if wf["subject"] != "acct:"+user+"@stage.example" {
		t.Fatalf("webfinger = %v", wf)
	}
	doc, err := s.Actor(ctx, user)
	if err != nil || doc["name"] != "Music Stage" || doc["id"] != "https://stage.example/federation/user/"+user {
		t.Fatalf("actor = %v, %v", doc, err)
	}
	if _, err := s.Actor(ctx, federation.StagePrefix+"0190a0b0-c0d0-7e0f-8000-000000000002"); err == nil {
		t.Fatal("a channel that is not a stage channel has an actor")
	}

	// Its go-live reaches its own followers, not the server actor's.
	stageIn, serverIn := newInbox(t), newInbox(t)
	now := time.Now().UTC()
	for _, f := range []*federation.Follower{
		{Actor: user, IRI: "https://a.example/u/1", Inbox: stageIn.srv.URL + "/inbox", CreatedAt: now, ApprovedAt: &now},
		{Actor: "streamer", IRI: "https://a.example/u/2", Inbox: serverIn.srv.URL + "/inbox", CreatedAt: now, ApprovedAt: &now},
	} {
		if err := db.Federation().PutFollower(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.GoLive(ctx, user, "Live from the music stage"); err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	wait(t, stageIn, 1)
	stop()
	serverIn.mu.Lock()
	if len(serverIn.ids) != 0 {
		t.Errorf("the server actor's followers got the stage's post")
	}
	serverIn.mu.Unlock()
	its, n, err := db.Federation().Outbox(ctx, user, 0, 10)
	if err != nil || n != 1 || len(its) != 1 {
		t.Fatalf("stage outbox = %d %v", n, err)
	}

	// Switched off: no actor, no posts.
	if err := s.SetStageEnabled(ctx, ch, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Actor(ctx, user); err == nil {
		t.Fatal("a switched-off stage actor is still served")
	}
	if err := s.GoLive(ctx, user, "again"); err == nil {
		t.Fatal("a switched-off stage actor posted")
	}
	st, err := s.Stage(ctx, ch)
	if err != nil || st.Enabled || st.Followers != 1 {
		t.Fatalf("stage = %+v, %v", st, err)
	}
}

// TestGoLivePost: the go-live Create/Note carries the go-live message, the
// title, the tags and #owncast, the preview image, sensitive when NSFW, and
// is addressed to followers only in private mode.
func TestGoLivePost(t *testing.T) {
	t.Parallel()
	for _, private := range []bool{false, true} {
		db := storetest.OpenSQLite(t)
		s := newService(t, db, federation.Config{Settings: func() federation.Settings {
			return federation.Settings{Enabled: true, Private: private, Username: "streamer", ServerURL: "https://stage.example",
				Name: "Stage", GoLiveMessage: "We are live!", StreamTitle: "Cooking <pasta>", Tags: []string{"food", "live music", "slow-food", "čaj", "#", "!!"}, NSFW: true}
		}})
		if err := s.GoLive(context.Background(), "", ""); err != nil {
			t.Fatal(err)
		}
		its, _, err := db.Federation().Outbox(context.Background(), "streamer", 0, 1)
		if err != nil || len(its) != 1 {
			t.Fatalf("outbox: %v %d", err, len(its))
		}
		var create struct {
			Type   string
			To, Cc []string
			Object struct {
				Type, Content string
				Sensitive     bool
				Tag           []struct{ Type, Name string }
				Attachment    []struct{ URL string }
			}
		}
		if err := json.Unmarshal(its[0].Value, &create); err != nil {
			t.Fatal(err)
		}
		o := create.Object
		tags := map[string]bool{}
		for _, tg := range o.Tag {
			tags[tg.Name] = tg.Type == "Hashtag"
		}
		if create.Type != "Create" || o.Type != "Note" || !o.Sensitive || !strings.Contains(o.Content, "We are live!") ||
			!strings.Contains(o.Content, "Cooking &lt;pasta&gt;") || !tags["#food"] || !tags["#livemusic"] || !tags["#owncast"] ||
			!tags["#slowfood"] || !tags["#čaj"] || len(tags) != 5 ||
			len(o.Attachment) != 1 || o.Attachment[0].URL != "https://stage.example/thumbnail.jpg" {
			t.Fatalf("go-live post = %+v", create)
		}
		public := len(create.To) > 0 && create.To[0] == federation.Public
		if public == private {
			t.Errorf("private=%v: to = %v", private, create.To)
		}
	}
}

// TestDeliveryOnTheWebhookEngine: federation's deliveries ride the one
// delivery engine as their own kind and keep ActivityPub's wire: the POST
// is signed (draft-cavage rsa-sha256 over (request-target), host, date and
// digest) with the actor's key, typed application/activity+json; an inbox
// answering 5xx is tried again, one answering 4xx is given up on at once.
func TestDeliveryOnTheWebhookEngine(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	type hit struct {
		status           int
		keyID, ctype     string
		verifyErr        error
		hasDigest, isAct bool
	}
	var s node
	var mu sync.Mutex
	answers := map[string][]int{"/flaky": {500, 202}, "/gone": {410, 202}}
	hits := make(chan hit, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		h := hit{ctype: r.Header.Get("Content-Type"), hasDigest: r.Header.Get("Digest") != "", isAct: json.Valid(b)}
		v, err := httpsig.NewVerifier(r)
		if err == nil {
			h.keyID = v.KeyId()
			pemText, perr := s.PublicKeyPEM(r.Context())
			if perr != nil {
				err = perr
			} else {
				blk, _ := pem.Decode([]byte(pemText))
				pub, perr := x509.ParsePKIXPublicKey(blk.Bytes)
				if perr != nil {
					err = perr
				} else {
					err = v.Verify(pub, httpsig.RSA_SHA256)
				}
			}
		}
		h.verifyErr = err
		mu.Lock()
		h.status = answers[r.URL.Path][0]
		answers[r.URL.Path] = answers[r.URL.Path][1:]
		mu.Unlock()
		w.WriteHeader(h.status)
		hits <- h
	}))
	defer srv.Close()
	addFollower(t, db, "https://peer.example/users/a", srv.URL+"/flaky")
	addFollower(t, db, "https://peer.example/users/b", srv.URL+"/gone")
	s = newService(t, db, federation.Config{Backoff: time.Millisecond})
	if err := s.SendPublic(context.Background(), "signed"); err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	count := map[int]int{}
	for range 3 {
		select {
		case h := <-hits:
			if h.verifyErr != nil || h.keyID != "https://stage.example/federation/user/streamer#main-key" ||
				h.ctype != federation.ContentType || !h.hasDigest || !h.isAct {
				t.Fatalf("delivery as sent: %+v", h)
			}
			count[h.status]++
		case <-time.After(30 * time.Second):
			t.Fatalf("deliveries did not arrive: %v", count)
		}
	}
	// The engine records each answer after the inbox sent it: wait for the
	// queue to empty (the 410 given up on, the 500 sent again).
	drained(t, db)
	stop()
	if count[500] != 1 || count[202] != 1 || count[410] != 1 {
		t.Fatalf("answers = %v, want one each of 500, 202, 410", count)
	}
	select {
	case h := <-hits:
		t.Fatalf("an extra attempt: %+v", h)
	default:
	}
}
