package owncast_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/identity/identitytest"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/rtmp"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/owncast"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// TestLiveWithChat wires the live part next to the chat part, as the app
// does, and checks what crosses between them: the stream parts of
// serverconfig, the stream title in /api/status, and STREAM_STARTED /
// STREAM_STOPPED webhooks.
func TestLiveWithChat(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	defer b.Close()
	idn, err := identity.New(ctx, identity.Config{Argon2: identitytest.Argon2}, db.Identity(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := idn.EnsureAdmin(ctx, "admin", "abc123"); err != nil {
		t.Fatal(err)
	}
	msgs, err := messages.New(db.Messages(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	chat, err := stagechat.New(ctx, stagechat.Config{Defaults: stagechat.DefaultSettings()}, db.StageChat(), idn, msgs, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer chat.Presence().Close()
	out, err := egress.New(egress.Config{AllowAddr: func(a netip.AddrPort) bool { return a.Addr().IsLoopback() }})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := webhooks.NewEngine(webhooks.EngineConfig{}, db.WebhookQueue(), out, nil)
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhooks.New(webhooks.Config{Backoff: 10 * time.Millisecond}, db.Webhooks(), engine, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	hub, err := gateway.New(gateway.Config{InsecureSkipVerify: true}, gateway.SubscriberFunc(func(p string, h func(string, []byte)) (func() error, error) {
		s, err := b.Subscribe(p, func(m bus.Message) { h(m.Topic, m.Data) })
		if err != nil {
			return nil, err
		}
		return s.Unsubscribe, nil
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := live.New(ctx, live.Config{DataDir: t.TempDir(), DefaultStreamKey: "abc123", ThumbnailEvery: time.Hour}, db.Live(), b, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SetVariants(ctx, svc.DefaultStageID(), []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	rs, err := rtmp.NewServer(rtmp.Config{Addr: "127.0.0.1:0"}, svc, discard())
	if err != nil {
		t.Fatal(err)
	}
	s, err := owncast.New(owncast.Deps{Identity: idn, Chat: chat, Hub: hub, Webhooks: hooks, Live: svc, Log: discard(),
		Chats: owncast.ChatOptions{DataDir: t.TempDir(), Version: "0.1.3"}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpserver.New(httpserver.Config{Addr: "127.0.0.1:0"}, discard())
	if err != nil {
		t.Fatal(err)
	}
	s.Register(srv)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{srv.Run, rs.Run, svc.Run, engine.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	defer func() {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), hangGuard)
		defer c()
		_ = hub.Shutdown(sctx)
		wg.Wait()
	}()
	n := &liveNode{url: srv.URL(), rtmp: rs.Addr().String(), live: svc, bus: b, stage: svc.DefaultStageID()}

	// serverconfig carries the stream settings from the live service.
	code, _, body := n.get(t, "/api/admin/serverconfig", true)
	var cfg struct {
		StreamKeys          []live.StreamKey `json:"streamKeys"`
		StreamKeyOverridden bool             `json:"streamKeyOverridden"`
		VideoCodec          string           `json:"videoCodec"`
		VideoSettings       struct {
			LatencyLevel         int              `json:"latencyLevel"`
			VideoQualityVariants []map[string]any `json:"videoQualityVariants"`
		} `json:"videoSettings"`
		S3 struct {
			Enabled        bool `json:"enabled"`
			ForcePathStyle bool `json:"forcePathStyle"`
		} `json:"s3"`
		FFmpegPath string `json:"ffmpegPath"`
	}
	if code != 200 || json.Unmarshal(body, &cfg) != nil {
		t.Fatalf("serverconfig: %d %s", code, body)
	}
	if len(cfg.StreamKeys) != 1 || cfg.StreamKeys[0] != (live.StreamKey{Key: "abc123", Comment: "Default stream key"}) || cfg.StreamKeyOverridden ||
		cfg.VideoCodec != "libx264" || cfg.VideoSettings.LatencyLevel != 2 || len(cfg.VideoSettings.VideoQualityVariants) != 1 ||
		cfg.VideoSettings.VideoQualityVariants[0]["videoPassthrough"] != true || cfg.S3.Enabled || cfg.FFmpegPath != "ffmpeg" {
		t.Fatalf("serverconfig stream parts: %s", body)
	}

	// Before any thumbnail exists, Owncast answers with the logo.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noFollow.Get(n.url + "/thumbnail.jpg"); err != nil || resp.StatusCode != 307 || resp.Header.Get("Location") != "/logo" {
		t.Fatalf("thumbnail before a stream: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// The stream title set through the page settings shows in /api/status.
	if code, r := n.post(t, "/api/admin/config/streamtitle", `{"value":"Live from the test"}`); code != 200 {
		t.Fatalf("streamtitle: %d %v", code, r)
	}
	if st := n.status(t); st["streamTitle"] != "Live from the test" || st["versionNumber"] != "0.1.3" {
		t.Fatalf("status: %v", st)
	}

	// Webhooks fire on start and stop.
	got := make(chan map[string]any, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &ev) == nil {
			got <- ev
		}
	}))
	defer recv.Close()
	if code, r := n.post(t, "/api/admin/webhooks/create", `{"url":"`+recv.URL+`","events":["STREAM_STARTED","STREAM_STOPPED"]}`); code != 200 {
		t.Fatalf("create webhook: %d %v", code, r)
	}
	c, err := rtmp.Dial(ctx, n.rtmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish("live", "abc123"); err != nil {
		t.Fatal(err)
	}
	expect := func(typ string, online bool) {
		t.Helper()
		select {
		case ev := <-got:
			data, _ := ev["eventData"].(map[string]any)
			status, _ := data["status"].(map[string]any)
			if ev["type"] != typ || data["streamTitle"] != "Live from the test" || status["online"] != online {
				t.Fatalf("webhook: %v", ev)
			}
		case <-time.After(hangGuard):
			t.Fatalf("no %s webhook", typ)
		}
	}
	expect("STREAM_STARTED", true)
	if !chat.Presence().Online() {
		t.Fatal("chat does not know the stream is online")
	}
	c.Close()
	expect("STREAM_STOPPED", false)
	if chat.Presence().Online() {
		t.Fatal("chat still thinks the stream is online")
	}
}
