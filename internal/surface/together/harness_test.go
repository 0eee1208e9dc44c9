package together_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
	"github.com/hearth-community/hearth/internal/voice"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// allowLoopback lets the link-preview test reach its httptest page.
const allowLoopback = true

// env is a running Together surface on a real HTTP listener, wired as
// internal/app/wire_together.go wires it.
type env struct {
	t     testing.TB
	url   string
	ident *identity.Service
	surf  *together.Surface
	bus   bus.Bus
	hub   *gateway.Hub
}

func newEnv(t testing.TB, eng storetest.Engine, opts ...func(*together.Deps)) *env {
	t.Helper()
	return newNode(t, eng.Open(t), bus.NewLocal(), opts...)
}

// newNode runs the surface on a given database and bus (several nodes may
// share them).
func newNode(t testing.TB, db *store.DB, b bus.Bus, opts ...func(*together.Deps)) *env {
	t.Helper()
	return newNodeOver(t, db, b, db.Identity(), db.Community(), opts...)
}

// newNodeOver is newNode with the identity and community services over the
// given stores: db's own, or wrappers of them that a test watches.
func newNodeOver(t testing.TB, db *store.DB, b bus.Bus, idStore identity.Store, commStore community.Store, opts ...func(*together.Deps)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	ident, err := identity.New(ctx, identity.Config{Secret: strings.Repeat("s", 40),
		Argon2: identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1}}, idStore, b, log)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := messages.New(db.Messages(), b, log)
	if err != nil {
		t.Fatal(err)
	}
	comm, err := community.New(commStore, b, msgs, log)
	if err != nil {
		t.Fatal(err)
	}
	comm.SetModeration(db.TogetherExtras())
	msgs.SetRules(comm)
	sub := gateway.SubscriberFunc(func(p string, h func(string, []byte)) (func() error, error) {
		s, err := b.Subscribe(p, func(m bus.Message) { h(m.Topic, m.Data) })
		if err != nil {
			return nil, err
		}
		return s.Unsubscribe, nil
	})
	hub, err := gateway.New(gateway.Config{InsecureSkipVerify: true, ReadLimit: together.MaxFrameBytes, IdleTimeout: together.IdleTimeout}, sub, log)
	if err != nil {
		t.Fatal(err)
	}
	eg, err := egress.New(egress.Config{AllowAddr: func(a netip.AddrPort) bool { return a.Addr().IsLoopback() && allowLoopback }})
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhooks.NewEngine(webhooks.EngineConfig{}, db.WebhookQueue(), eg, log)
	if err != nil {
		t.Fatal(err)
	}
	deps := together.Deps{Log: log, Identity: ident, Community: comm, Messages: msgs, Bus: b, Sub: sub,
		Hub: hub, Bots: db.TogetherBots(), DBPing: db.Ping, Version: "test", Extras: db.TogetherExtras(), Voice: db.TogetherExtras(), Webhooks: db.TogetherExtras(), WebhookEngine: hooks, UploadDir: t.TempDir(), Egress: eg}
	for _, o := range opts {
		o(&deps)
	}
	if deps.Voice != nil && deps.Calls == nil {
		deps.Calls = wireCalls(t, b, db, comm, commStore, deps.SFU, log)
	}
	surf, err := together.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := surf.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv, err := httpserver.New(httpserver.Config{Addr: "127.0.0.1:0", MaxBodyBytes: 1 << 20, ShutdownTimeout: time.Second}, log)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnShutdown(func(ctx context.Context) { _ = hub.Shutdown(ctx) })
	surf.Register(srv)
	done, hooksDone := make(chan struct{}), make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	go func() { _ = hooks.Run(ctx); close(hooksDone) }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-hooksDone
		_ = surf.Close()
		_ = b.Close()
	})
	return &env{t: t, url: srv.URL(), ident: ident, surf: surf, bus: b, hub: hub}
}

// call sends a request; body may be a string (sent raw) or a value (JSON).
func (e *env) call(method, path, auth string, body any) (int, map[string]any, []any) {
	e.t.Helper()
	code, obj, arr, _ := e.request(method, path, auth, body)
	return code, obj, arr
}

// callH is call answering the response's header in place of an array body.
func (e *env) callH(method, path, auth string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	code, obj, _, hdr := e.request(method, path, auth, body)
	return code, obj, hdr
}

func (e *env) request(method, path, auth string, body any) (int, map[string]any, []any, http.Header) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		if strings.HasPrefix(auth, "Bot ") {
			req.Header.Set("Authorization", auth)
		} else {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var obj map[string]any
	var arr []any
	if len(raw) > 0 && raw[0] == '[' {
		_ = json.Unmarshal(raw, &arr)
	} else {
		_ = json.Unmarshal(raw, &obj)
	}
	return resp.StatusCode, obj, arr, resp.Header
}

// must calls and fails the test unless the status is want.
func (e *env) must(want int, method, path, auth string, body any) (map[string]any, []any) {
	e.t.Helper()
	code, obj, arr := e.call(method, path, auth, body)
	if code != want {
		e.t.Fatalf("%s %s: status %d, want %d (%v)", method, path, code, want, obj)
	}
	return obj, arr
}

type user struct {
	id, name, access, refresh string
}

func (e *env) register(name string) user {
	e.t.Helper()
	obj, _ := e.must(201, "POST", "/auth/register", "", map[string]string{"username": name, "password": "password123", "email": name + "@example.org"})
	u := obj["user"].(map[string]any)
	return user{id: u["id"].(string), name: name, access: obj["access_token"].(string), refresh: obj["refresh_token"].(string)}
}

// serverWithChannel has owner create a public server that members join,
// with one text channel named channel; it returns their ids.
func (e *env) serverWithChannel(owner user, channel string, members ...user) (sid, cid string) {
	e.t.Helper()
	srv, _ := e.must(201, "POST", "/servers", owner.access, map[string]any{"name": "S", "is_public": true})
	sid = srv["id"].(string)
	for _, m := range members {
		e.must(201, "POST", "/servers/"+sid+"/join", m.access, nil)
	}
	ch, _ := e.must(201, "POST", "/servers/"+sid+"/channels", owner.access, map[string]any{"name": channel, "type": "text"})
	return sid, ch["id"].(string)
}

// ws is a gateway client.
type ws struct {
	t testing.TB
	c *websocket.Conn
}

func (e *env) dial(query string) (*ws, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/ws?"+query, nil)
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(1 << 20)
	w := &ws{t: e.t, c: c}
	e.t.Cleanup(func() { _ = c.CloseNow() })
	return w, resp, nil
}

type frame struct {
	Op string          `json:"op"`
	T  string          `json:"t"`
	D  json.RawMessage `json:"d"`
}

func (w *ws) next() (frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	_, data, err := w.c.Read(ctx)
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		w.t.Fatalf("bad frame %s", data)
	}
	return f, nil
}

// waitFor reads frames until one with dispatch type t arrives.
func (w *ws) waitFor(t string) frame {
	w.t.Helper()
	for {
		f, err := w.next()
		if err != nil {
			w.t.Fatalf("waiting for %s: %v", t, err)
		}
		if t == "" || f.T == t || (t == "HEARTBEAT_ACK" && f.Op == t) {
			return f
		}
	}
}

// waitForEach reads frames until one of each dispatch type in types has
// arrived, in any order (events on different bus streams, such as a REST
// call's and a socket's typing, may overtake each other).
func (w *ws) waitForEach(types ...string) {
	w.t.Helper()
	left := map[string]bool{}
	for _, t := range types {
		left[t] = true
	}
	for len(left) > 0 {
		f, err := w.next()
		if err != nil {
			w.t.Fatalf("waiting for %v: %v", types, err)
		}
		delete(left, f.T)
	}
}

func (w *ws) send(v any) {
	w.t.Helper()
	raw, _ := json.Marshal(v)
	if err := w.c.Write(context.Background(), websocket.MessageText, raw); err != nil {
		w.t.Fatal(err)
	}
}

// wireCalls runs the call rules on the node's bus as internal/app does:
// every community event and revocation the node hears.
func wireCalls(t testing.TB, b bus.Bus, db *store.DB, comm *community.Service, commStore community.Store, sfu *voice.SFU, log *slog.Logger) *voice.Calls {
	t.Helper()
	calls, err := voice.NewCalls(voice.CallsConfig{Store: db.TogetherExtras(), Access: comm, Channels: commStore, SFU: sfu, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	life, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	ev, err := b.Subscribe("community.>", func(m bus.Message) {
		if strings.HasPrefix(m.Topic, "community.dm.") {
			return
		}
		var e community.Event
		if json.Unmarshal(m.Data, &e) == nil {
			calls.OnCommunityEvent(life, &e)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	rv, err := b.Subscribe(identity.RevokedTopic, func(m bus.Message) {
		var r identity.Revoked
		if json.Unmarshal(m.Data, &r) == nil && r.AccountID != "" {
			go calls.Disconnected(life, r.AccountID)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ev.Unsubscribe(); _ = rv.Unsubscribe() })
	return calls
}
