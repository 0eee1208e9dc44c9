package live_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/rtmp"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T, db *store.DB, cfg live.Config) *live.Service {
	t.Helper()
	b := bus.NewLocal()
	t.Cleanup(func() { b.Close() })
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	s, err := live.New(context.Background(), cfg, db.Live(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStreamKeysAtPublish(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	s := newService(t, db, live.Config{TempStreamKey: "temporary"})
	ctx := context.Background()
	if err := s.SetVariants(ctx, s.DefaultStageID(), []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.StreamKeys(ctx, s.DefaultStageID())
	if err != nil || len(keys) != 1 || len(keys[0].Key) < 20 || keys[0].Comment != "Default stream key" {
		t.Fatalf("generated default key: %+v %v", keys, err)
	}
	if stored, _ := s.StreamKeys(ctx, s.DefaultStageID()); stored[0].Key == "temporary" {
		t.Fatal("temporary key stored")
	}
	cases := []struct {
		name, app, key string
		ok             bool
	}{
		{"stored key", "live", keys[0].Key, true},
		{"temporary key", "live", "temporary", true},
		{"wrong key", "live", "nope", false},
		{"empty key", "live", "", false},
		{"wrong app", "app", keys[0].Key, false},
	}
	for _, tc := range cases {
		st, err := s.Publish(ctx, rtmp.PublishRequest{App: tc.app, Name: tc.key, RemoteAddr: "127.0.0.1:1"})
		if (err == nil) != tc.ok {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if st != nil {
			if _, err := s.Publish(ctx, rtmp.PublishRequest{App: "live", Name: keys[0].Key}); err == nil {
				t.Fatalf("%s: a second publisher was accepted", tc.name)
			}
			st.Close(nil)
			if !s.WaitOffline(s.DefaultStageID(), 5*time.Second) {
				t.Fatal("broadcast did not end")
			}
		}
	}
	if err := s.SetStreamKeys(ctx, s.DefaultStageID(), []live.StreamKey{{Key: "dup"}, {Key: "dup"}}); !errors.Is(err, fault.Invalid) {
		t.Fatalf("duplicate keys: %v", err)
	}
}

func TestSettingsSurviveRestart(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	dir := t.TempDir()
	ctx := context.Background()
	s := newService(t, db, live.Config{DataDir: dir, DefaultStreamKey: "abc123", FFmpegPath: "ffmpeg"})
	id := s.DefaultStageID()
	if err := s.SetLatencyLevel(ctx, id, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSettings(ctx, func(st *live.Settings) error { st.VideoServingEndpoint = "https://cdn.example.org"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSettings(ctx, func(st *live.Settings) error {
		st.S3 = hls.S3Config{Enabled: true, Bucket: "b"}
		return nil
	}); !errors.Is(err, fault.Invalid) {
		t.Fatalf("S3 without endpoint: %v", err)
	}
	again := newService(t, db, live.Config{DataDir: dir, DefaultStreamKey: "other"})
	if again.DefaultStageID() != id {
		t.Fatal("a second default stage was created")
	}
	st, _ := again.StageSettings(ctx, id)
	keys, _ := again.StreamKeys(ctx, id)
	if st.LatencyLevel != 5 || again.Settings().VideoServingEndpoint != "https://cdn.example.org" || keys[0].Key != "abc123" {
		t.Fatalf("after restart: level %d endpoint %q keys %+v", st.LatencyLevel, again.Settings().VideoServingEndpoint, keys)
	}
}

func TestViewersArePruned(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newService(t, db, live.Config{Now: c.now, ViewerTTL: 15 * time.Second})
	id := s.DefaultStageID()
	s.Touch(id, "1.1.1.1", "a")
	s.Touch(id, "1.1.1.1", "a") // the same viewer
	s.Touch(id, "1.1.1.1", "b") // another user agent: another viewer
	c.add(10 * time.Second)
	s.Touch(id, "2.2.2.2", "a")
	if v, _ := s.Viewers(id); len(v) != 3 {
		t.Fatalf("%d viewers, want 3", len(v))
	}
	c.add(6 * time.Second)
	s.Prune()
	v, _ := s.Viewers(id)
	if len(v) != 1 || v[0].IP != "2.2.2.2" {
		t.Fatalf("after 16 s: %+v", v)
	}
	st, _ := s.Status(context.Background(), id)
	if st.ViewerCount != 1 || st.Online {
		t.Fatalf("status: %+v", st)
	}
	// One address cannot mint unlimited viewers by varying its user agent.
	for i := 0; i < 1000; i++ {
		s.Touch(id, "6.6.6.6", "agent "+strconv.Itoa(i))
	}
	if v, _ := s.Viewers(id); len(v) != 1+32 {
		t.Fatalf("%d viewers after a user-agent flood, want 33", len(v))
	}
	c.add(20 * time.Second)
	s.Prune()
	s.Touch(id, "6.6.6.6", "again")
	if v, _ := s.Viewers(id); len(v) != 1 {
		t.Fatalf("per-address count not released: %d", len(v))
	}
}

// TestStages: the domain allows more stages than Owncast's default, each
// with its own keys, publisher and HLS output.
func TestStages(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	dir := t.TempDir()
	ctx := context.Background()
	s := newService(t, db, live.Config{DataDir: dir, DefaultStreamKey: "main"})
	pass := []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}
	_ = s.SetVariants(ctx, s.DefaultStageID(), pass)
	if _, err := s.CreateStage(ctx, "Second", []live.StreamKey{{Key: "main"}}); !errors.Is(err, fault.Conflict) {
		t.Fatalf("key of another stage: %v", err)
	}
	if _, err := s.CreateStage(ctx, " ", []live.StreamKey{{Key: "x"}}); !errors.Is(err, fault.Invalid) {
		t.Fatalf("blank name: %v", err)
	}
	second, err := s.CreateStage(ctx, "Second", []live.StreamKey{{Key: "side", Comment: "guest"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetVariants(ctx, second.ID, pass)
	a, err := s.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "main"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "side"})
	if err != nil {
		t.Fatalf("second stage while the first is live: %v", err)
	}
	if _, err := s.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "side"}); err == nil {
		t.Fatal("two publishers on one stage")
	}
	for _, id := range []string{s.DefaultStageID(), second.ID} {
		if st, _ := s.Status(ctx, id); !st.Online {
			t.Fatalf("stage %s not online", id)
		}
	}
	oa, _ := s.Origin(s.DefaultStageID())
	ob, _ := s.Origin(second.ID)
	if oa == ob {
		t.Fatal("stages share an HLS origin")
	}
	b.Close(nil)
	s.WaitOffline(second.ID, 5*time.Second)
	if st, _ := s.Status(ctx, s.DefaultStageID()); !st.Online {
		t.Fatal("ending one stage ended the other")
	}
	a.Close(nil)
	s.WaitOffline(s.DefaultStageID(), 5*time.Second)

	// Another node (or a restart) knows the stage too.
	other := newService(t, db, live.Config{DataDir: t.TempDir()})
	all, err := other.Stages(ctx)
	if err != nil || len(all) != 2 || !all[0].Default || all[1].Name != "Second" {
		t.Fatalf("stages: %+v %v", all, err)
	}
	if _, err := other.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "side"}); err != nil {
		t.Fatalf("publish to a stage loaded at start: %v", err)
	}
	if _, err := other.Status(ctx, "missing"); !errors.Is(err, fault.NotFound) {
		t.Fatalf("unknown stage: %v", err)
	}
}

// leaveBroadcastOpen stores what begin writes when a publisher connects at
// connected, with no end after it: a broadcast its process lost.
func leaveBroadcastOpen(t *testing.T, db *store.DB, id string, connected time.Time) {
	t.Helper()
	st, err := db.Live().Stage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	st.LastConnect = &connected
	if err := db.Live().UpdateStage(context.Background(), st); err != nil {
		t.Fatal(err)
	}
}

// TestLostBroadcastGetsDisconnectTime: a process that stopped mid-broadcast
// left a connect time with no disconnect after it; the next start records
// the disconnect, so lastDisconnectTime is not null beside lastConnectTime.
func TestLostBroadcastGetsDisconnectTime(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	dir := t.TempDir()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	s := newService(t, db, live.Config{DataDir: dir, Now: c.now})
	id := s.DefaultStageID()
	connected := c.now().Add(-time.Hour)
	leaveBroadcastOpen(t, db, id, connected)
	again := newService(t, db, live.Config{DataDir: dir, Now: c.now})
	got, err := again.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Online || got.LastConnect == nil || got.LastDisconnect == nil || !got.LastDisconnect.Equal(c.now()) {
		t.Fatalf("after restart: online %v connect %v disconnect %v", got.Online, got.LastConnect, got.LastDisconnect)
	}
	// A clean stop (disconnect after connect) is left as it was.
	third := newService(t, db, live.Config{DataDir: dir, Now: func() time.Time { return c.now().Add(time.Hour) }})
	if got, _ := third.Status(ctx, id); got.LastDisconnect == nil || !got.LastDisconnect.Equal(c.now()) {
		t.Fatalf("clean restart moved the disconnect time: %v", got.LastDisconnect)
	}
}

// TestLostBroadcastIsAnnouncedStopped: a broadcast the last process lost
// (killed mid-broadcast) is announced stopped once the restarted node runs,
// with its start and the moment its loss was known, as its end would have
// been: the Owncast surface turns the event into the STREAM_STOPPED webhook,
// which a kill otherwise never sent, so an integration that heard
// STREAM_STARTED kept the stream live until the next broadcast. A clean
// stop before the restart is not announced again.
func TestLostBroadcastIsAnnouncedStopped(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	dir := t.TempDir()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	s := newService(t, db, live.Config{DataDir: dir, Now: c.now})
	id := s.DefaultStageID()
	connected := c.now().Add(-time.Hour)
	leaveBroadcastOpen(t, db, id, connected)
	run := func(s *live.Service) []live.Event {
		t.Helper()
		var mu sync.Mutex
		var got []live.Event
		s.Observe(func(e live.Event) {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		})
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = s.Run(rctx); close(done) }()
		time.Sleep(200 * time.Millisecond)
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	got := run(newService(t, db, live.Config{DataDir: dir, Now: c.now}))
	if len(got) != 1 || got[0].Kind != live.EventStopped || got[0].StageID != id || !got[0].DefaultStage ||
		got[0].StartedAt == nil || !got[0].StartedAt.Equal(connected) || got[0].EndedAt == nil || !got[0].EndedAt.Equal(c.now()) {
		t.Fatalf("events after the restart: %+v, want the lost broadcast's stop (started %v, ended %v)", got, connected, c.now())
	}
	if got := run(newService(t, db, live.Config{DataDir: dir, Now: c.now})); len(got) != 0 {
		t.Fatalf("a clean restart announced %+v", got)
	}
}

// TestEndReachesViewersOnDisconnect: when the publisher leaves, the stage
// reads offline and the stopped event goes out on the disconnect itself,
// while the pipeline is still draining; no timer stands between the
// publisher leaving and viewers learning it. The drain is held open by a
// hook until the test has checked, so the verdict does not depend on speed.
func TestEndReachesViewersOnDisconnect(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	s := newService(t, db, live.Config{DefaultStreamKey: "main"})
	ctx := context.Background()
	id := s.DefaultStageID()
	if err := s.SetVariants(ctx, id, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	draining := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	s.SetDrainHook(func() { once.Do(func() { close(draining); <-release }) })
	stopped := make(chan live.Event, 1)
	s.Observe(func(e live.Event) {
		if e.Kind == live.EventStopped {
			stopped <- e
		}
	})
	pub, err := s.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "main", RemoteAddr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Status(ctx, id); !st.Online {
		t.Fatal("not online while publishing")
	}
	closed := make(chan struct{})
	go func() { pub.Close(nil); close(closed) }()
	<-draining // the end is under way and held before the drain
	e := <-stopped
	if e.Online || e.EndedAt == nil {
		t.Fatalf("stopped event: %+v", e)
	}
	st, err := s.Status(ctx, id)
	if err != nil || st.Online || st.LastDisconnect == nil {
		t.Fatalf("status while the pipeline drains: online %v disconnect %v err %v", st.Online, st.LastDisconnect, err)
	}
	// The stage stays reserved until the drain is done.
	if _, err := s.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "main"}); err == nil {
		t.Fatal("a new publisher started over a draining broadcast")
	}
	close(release)
	<-closed
	if !s.WaitOffline(id, 10*time.Second) {
		t.Fatal("broadcast did not end")
	}
	next, err := s.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "main"})
	if err != nil {
		t.Fatalf("publish after the end: %v", err)
	}
	next.Close(nil)
	s.WaitOffline(id, 10*time.Second)
}

// TestViewersCountIPv6Prefix: the per-address viewer bound counts an IPv6
// client by its /64, so a host holding a /64 (the usual assignment) cannot
// mint viewers by rotating its addresses; the count is given back when
// those viewers are pruned.
func TestViewersCountIPv6Prefix(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newService(t, db, live.Config{Now: c.now, ViewerTTL: 15 * time.Second})
	id := s.DefaultStageID()
	for i := range 1000 {
		s.Touch(id, fmt.Sprintf("2001:db8:7:7::%x", i+1), "agent")
	}
	s.Touch(id, "2001:db8:7:8::1", "agent") // another /64
	if v, _ := s.Viewers(id); len(v) != 32+1 {
		t.Fatalf("%d viewers after 1,000 addresses of one /64, want 33", len(v))
	}
	c.add(20 * time.Second)
	s.Prune()
	s.Touch(id, "2001:db8:7:7::ffff", "again")
	if v, _ := s.Viewers(id); len(v) != 1 {
		t.Fatalf("per-prefix count not released: %d viewers", len(v))
	}
}
