package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/config"
)

// TestHubsShareOneSocketBudget: every surface's hub (Together, Owncast,
// OTT) draws on the node's one socket budget, sized below the open-file
// limit, so that sockets of any surface cannot take the descriptors the
// database, files and requests need.
func TestHubsShareOneSocketBudget(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "hearth.db"), Bus: "local",
		AdminUser: "admin", AdminPassword: "adminpassword", AccessTokenTTL: 15 * time.Minute, RefreshTokenTTL: time.Hour,
		LogLevel: "info", LogFormat: "text", MaxBodyBytes: 1 << 20, ShutdownTimeout: 5 * time.Second}
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if a.sockets == nil || a.sockets.Max() != socketsWithin(int(l.Cur)) || a.sockets.Max() >= int(l.Cur) {
		t.Fatalf("budget %v, open-file limit %d", a.sockets, l.Cur)
	}
	if len(a.hubs) < 3 {
		t.Fatalf("%d hubs, want one per surface", len(a.hubs))
	}
	for i, h := range a.hubs {
		if h.Config().Sockets != a.sockets {
			t.Errorf("hub %d has its own socket budget", i)
		}
	}
	mfs, err := a.HTTP.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	metrics := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			metrics[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	if metrics["hearth_sockets_max"] != float64(a.sockets.Max()) {
		t.Errorf("/metrics: hearth_sockets_max %v, want %d", metrics["hearth_sockets_max"], a.sockets.Max())
	}
	for _, name := range []string{"hearth_sockets_open", "hearth_sockets_refused_total"} {
		if v, ok := metrics[name]; !ok || v != 0 {
			t.Errorf("/metrics: %s = %v (present %v), want 0", name, v, ok)
		}
	}
	for limit, want := range map[int]int{1024: 768, 20000: 18000, 1 << 20: 943719, 100: 1} {
		if got := socketsWithin(limit); got != want {
			t.Errorf("socketsWithin(%d) = %d, want %d", limit, got, want)
		}
	}
}
