package owncast_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/directory"
	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/identity/identitytest"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/schedule"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/owncast"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// node is a Hearth node with the real Owncast chat surface on loopback:
// SQLite, the local bus, identity, the message store, the stage chat, the
// gateway hub and webhooks.
type node struct {
	url     string
	db      *store.DB
	msgs    *messages.Service
	chat    *stagechat.Service
	id      *identity.Service
	hooks   *webhooks.Service
	fed     *federation.Service
	surface *owncast.Surface
	dataDir string
}

type nodeOpts struct {
	// db and bus, when set, are shared with another node (scale-out).
	db  *store.DB
	bus bus.Bus
	// conversation overrides the stage chat's conversation id.
	conversation string

	chat     func(*owncast.ChatOptions)
	presence stagechat.PresenceConfig
	// allow lets webhook deliveries reach a test listener.
	allow func(netip.AddrPort) bool
	// engagement, when set, hears federation engagement.
	engagement func(context.Context, federation.Engagement)
	// noFederationRunner leaves the delivery queue unsent.
	noFederationRunner bool
	// directoryURL, when set, runs the Owncast directory pinger against it.
	directoryURL string
	// webhookQueue, when set, wraps the webhook engine's queue.
	webhookQueue func(webhooks.Queue) webhooks.Queue
	// webPort is Deps.WebServerPort (the port --addr is bound to).
	webPort int
}

func newNode(t testing.TB, o nodeOpts) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db, b := o.db, o.bus
	if db == nil {
		db = storetest.OpenSQLite(t)
	}
	if b == nil {
		lb := bus.NewLocal()
		t.Cleanup(func() { lb.Close() })
		b = lb
	}
	idn, err := identity.New(ctx, identity.Config{Argon2: identitytest.Argon2},
		db.Identity(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := idn.EnsureAdmin(ctx, "admin", "abc123"); err != nil && o.db == nil {
		t.Fatal(err)
	}
	msgs, err := messages.New(db.Messages(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := stagechat.DefaultSettings()
	def.Name = "Test Stage"
	chat, err := stagechat.New(ctx, stagechat.Config{Defaults: def, Presence: o.presence, Conversation: o.conversation}, db.StageChat(), idn, msgs, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(chat.Presence().Close)
	dir := t.TempDir()
	emoji, err := stagechat.OpenEmojiDir(dir + "/emoji")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emoji.Close() })
	// As the app wires it: uploads kept in the database, other nodes told.
	emoji.Share(db.StageChat(), func() { _ = b.Publish(ctx, stagechat.EmojiTopic, []byte(`{}`)) })
	emojiSub, err := b.Subscribe(stagechat.EmojiTopic, func(bus.Message) { emoji.Invalidate() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emojiSub.Unsubscribe() })
	out, err := egress.New(egress.Config{AllowAddr: o.allow})
	if err != nil {
		t.Fatal(err)
	}
	var queue webhooks.Queue = db.WebhookQueue()
	if o.webhookQueue != nil {
		queue = o.webhookQueue(queue)
	}
	engine, err := webhooks.NewEngine(webhooks.EngineConfig{}, queue, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhooks.New(webhooks.Config{Backoff: 10 * time.Millisecond, Bus: b}, db.Webhooks(), engine, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As the app wires it: a webhook created or deleted on another node.
	changed, err := b.Subscribe(webhooks.ChangedTopic, func(bus.Message) { hooks.Invalidate() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { changed.Unsubscribe() })
	hooksCtx, stopHooks := context.WithCancel(ctx)
	hooksDone := make(chan struct{})
	go func() { _ = engine.Run(hooksCtx); close(hooksDone) }()
	t.Cleanup(func() { stopHooks(); <-hooksDone })
	hub, err := gateway.New(gateway.Config{InsecureSkipVerify: true, ReadLimit: 2 * owncast.MaxSocketPayload},
		gateway.SubscriberFunc(func(p string, h func(string, []byte)) (func() error, error) {
			s, err := b.Subscribe(p, func(m bus.Message) { h(m.Topic, m.Data) })
			if err != nil {
				return nil, err
			}
			return s.Unsubscribe, nil
		}), nil)
	if err != nil {
		t.Fatal(err)
	}
	copts := owncast.ChatOptions{DataDir: dir, WelcomeDelay: time.Hour, DisableGrace: 50 * time.Millisecond, Version: "test"}
	if o.chat != nil {
		o.chat(&copts)
	}
	// http:// profile URLs are allowed so a plain httptest server can play
	// the IndieAuth server; every address rule still applies.
	indie, err := stagechat.NewIndieAuth(chat, db.StageChat(), stagechat.IndieAuthConfig{Client: out, AllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := schedule.New(db.Schedule(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var surf atomic.Pointer[owncast.Surface]
	// Federation reaches test peers on loopback (the test-only egress
	// allowance) and looks up remote accounts over plain http.
	fedOut, err := egress.New(egress.Config{AllowAddr: func(ap netip.AddrPort) bool { return ap.Addr().IsLoopback() }})
	if err != nil {
		t.Fatal(err)
	}
	// Federation's deliveries get an engine of their own here (the node
	// runs one for every kind), so o.noFederationRunner can leave them
	// unsent while webhooks go out.
	fedEngine, err := webhooks.NewEngine(webhooks.EngineConfig{Poll: 20 * time.Millisecond}, db.WebhookQueue(), fedOut, nil)
	if err != nil {
		t.Fatal(err)
	}
	fed, err := federation.New(federation.Config{Settings: chat.FederationSettings, Version: "test", InsecureHTTP: true,
		Backoff: time.Millisecond, OnEngagement: func(ctx context.Context, e federation.Engagement) {
			chat.FederationEngagement(ctx, e)
			if sf := surf.Load(); sf != nil {
				sf.FediverseWebhook(e)
			}
			if o.engagement != nil {
				o.engagement(ctx, e)
			}
		}}, db.Federation(), fedEngine, fedOut, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !o.noFederationRunner {
		fedCtx, stopFed := context.WithCancel(ctx)
		fedDone := make(chan struct{})
		go func() { _ = fedEngine.Run(fedCtx); close(fedDone) }()
		t.Cleanup(func() { stopFed(); <-fedDone })
	}
	fediAuth, err := stagechat.NewFediverseAuth(chat, db.StageChat(), fed)
	if err != nil {
		t.Fatal(err)
	}
	dirURL := o.directoryURL
	if dirURL == "" {
		dirURL = "https://directory.example" // never pinged: the pinger runs only with o.directoryURL
	}
	yp, err := directory.New(directory.Config{URL: dirURL, Interval: 20 * time.Millisecond, Settings: chat.DirectorySettings},
		db.StageChat(), fedOut, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.directoryURL != "" {
		go func() { _ = yp.Run(ctx) }()
	}
	s, err := owncast.New(owncast.Deps{Identity: idn, Chat: chat, Emoji: emoji, Hub: hub, Webhooks: hooks, Chats: copts, IndieAuth: indie, Schedule: sched,
		Federation: fed, FediverseAuth: fediAuth, Directory: yp, WebServerPort: o.webPort})
	if err != nil {
		t.Fatal(err)
	}
	surf.Store(s)
	chat.SetHook(s.ChatEventWebhooks)
	sub, err := b.Subscribe(identity.RevokedTopic, func(m bus.Message) {
		var r identity.Revoked
		if json.Unmarshal(m.Data, &r) == nil && r.AccountID != "" {
			if a, err := idn.Account(context.Background(), r.AccountID); err == nil && a.Disabled() {
				s.AccountDisabled(r.AccountID)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	msub, err := b.Subscribe(messages.Topic(chat.Conversation()), func(m bus.Message) { s.StageMessageWebhook(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { msub.Unsubscribe() })
	ssub, err := b.Subscribe(stagechat.SettingsTopic, func(bus.Message) { _ = chat.ReloadSettings(context.Background()) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ssub.Unsubscribe() })
	srv, err := httpserver.New(httpserver.Config{Addr: "127.0.0.1:0"}, discard())
	if err != nil {
		t.Fatal(err)
	}
	s.Register(srv)
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), hangGuard)
		defer c()
		_ = hub.Shutdown(sctx)
		<-done
	})
	return &node{url: srv.URL(), db: db, msgs: msgs, chat: chat, id: idn, hooks: hooks, fed: fed, surface: s, dataDir: dir}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// do sends a request; auth is "admin" for Basic admin, "bearer:<tok>" for
// an integration token, "" for none.
func (n *node) do(t testing.TB, method, path, auth string, body any, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, n.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case auth == "admin":
		req.SetBasicAuth("admin", "abc123")
	case strings.HasPrefix(auth, "basic:"):
		req.SetBasicAuth("admin", strings.TrimPrefix(auth, "basic:"))
	case strings.HasPrefix(auth, "bearer:"):
		req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(auth, "bearer:"))
	case auth != "":
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

type registration struct {
	ID          string `json:"id"`
	AccessToken string `json:"accessToken"`
	DisplayName string `json:"displayName"`
}

func (n *node) register(t testing.TB, name string) registration {
	t.Helper()
	var body any
	if name != "" {
		body = map[string]string{"displayName": name}
	}
	r := n.do(t, "POST", "/api/chat/register", "", body)
	if r.status != 200 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	var reg registration
	r.json(t, &reg)
	return reg
}

// chatClient is a real WebSocket chat client.
type chatClient struct {
	t      testing.TB
	ws     *websocket.Conn
	events chan map[string]any
	closed chan struct{}
	// err is why the socket ended, once closed is closed.
	err error
}

func (n *node) dial(t testing.TB, token string) *chatClient {
	t.Helper()
	return n.dialWith(t, token, nil)
}

// dialWith dials with extra request headers (X-Forwarded-For, …).
func (n *node) dialWith(t testing.TB, token string, hdr http.Header) *chatClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(n.url, "http", "ws", 1)+"/ws?accessToken="+token, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	c := &chatClient{t: t, ws: ws, events: make(chan map[string]any, 1024), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			for _, line := range bytes.Split(data, []byte("\n")) {
				var ev map[string]any
				if json.Unmarshal(line, &ev) == nil {
					c.events <- ev
				}
			}
		}
	}()
	t.Cleanup(func() { ws.CloseNow() })
	return c
}

func (c *chatClient) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// await returns the first event of type typ (skipping others) that match
// accepts, failing after a timeout.
func (c *chatClient) await(typ string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	timeout := time.After(hangGuard)
	var skipped []any
	for {
		select {
		case ev := <-c.events:
			if ev["type"] == typ && (match == nil || match(ev)) {
				return ev
			}
			skipped = append(skipped, ev)
		case <-timeout:
			c.t.Fatalf("no %s event within 20s (saw %v)", typ, skipped)
			return nil
		}
	}
}

// awaitAll waits until one event of each type has arrived, in any order.
func (c *chatClient) awaitAll(types ...string) map[string]map[string]any {
	c.t.Helper()
	got := map[string]map[string]any{}
	timeout := time.After(hangGuard)
	for len(got) < len(types) {
		select {
		case ev := <-c.events:
			for _, typ := range types {
				if ev["type"] == typ && got[typ] == nil {
					got[typ] = ev
				}
			}
		case <-timeout:
			c.t.Fatalf("wanted %v within 20s, got %v", types, got)
		}
	}
	return got
}

func (c *chatClient) awaitClosed() {
	c.t.Helper()
	select {
	case <-c.closed:
	case <-time.After(hangGuard):
		c.t.Fatal("socket not closed within 10s")
	}
}
