package owncast

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestRTMPURLIsTheListener: the advertised RTMP URL and serverconfig's
// rtmpServerPort name the port the listener is bound to.
func TestRTMPURLIsTheListener(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	t.Cleanup(func() { b.Close() })
	svc, err := live.New(ctx, live.Config{DataDir: t.TempDir(), RTMPPort: 1935, ThumbnailEvery: time.Hour}, db.Live(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Surface{d: Deps{Live: svc}}
	for _, tc := range []struct {
		port int
		host string
		want string
	}{
		{1935, "example.org:8080", "rtmp://example.org/live"},
		{4242, "example.org", "rtmp://example.org:4242/live"},
		{4242, "[::1]:8080", "rtmp://[::1]:4242/live"},
	} {
		svc.SetIngestPort(tc.port)
		r := httptest.NewRequest("GET", "/api/stages/x/key", nil)
		r.Host = tc.host
		if got := s.rtmpURL(r); got != tc.want {
			t.Errorf("listener %d host %s: %s, want %s", tc.port, tc.host, got, tc.want)
		}
		// serverconfig (the web app's admin shows it) names the same port.
		if got := s.liveServerConfig(ctx)["rtmpServerPort"]; got != tc.port {
			t.Errorf("listener %d: serverconfig rtmpServerPort %v", tc.port, got)
		}
	}
}
