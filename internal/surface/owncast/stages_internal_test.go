package owncast

import (
	"context"
	"encoding/base64"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/peersign"
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

// TestStageToken: a stage channel's HLS path token names the account it
// was made for and lasts StageHLSTTL (to the second); an expired, forged or
// re-aimed token (another channel or account, another key, another kind of
// signed URL) names no one.
func TestStageToken(t *testing.T) {
	t.Parallel()
	const ch, other, acc = "0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", "0197a1b2-0000-7000-8000-000000000001"
	s := &Surface{d: Deps{StageURLKey: []byte("stage key")}}
	now := time.Date(2026, 12, 7, 2, 0, 0, 500_000_000, time.UTC)
	tok, exp := s.stageToken(ch, acc, now)
	if !exp.Equal(now.Add(StageHLSTTL).Truncate(time.Second)) || strings.ContainsAny(tok, "/?#%") {
		t.Fatalf("token %q expires %v", tok, exp)
	}
	for _, at := range []time.Time{now, exp} {
		if got, ok := s.validStageToken(ch, tok, at); !ok || got != acc {
			t.Fatalf("at %v: %q %v, want %q", at, got, ok, acc)
		}
	}
	expS, rest, _ := strings.Cut(tok, ".")
	enc, sig, _ := strings.Cut(rest, ".")
	otherAcc := base64.RawURLEncoding.EncodeToString([]byte("0197a1b2-0000-7000-8000-000000000002"))
	later := strconv.FormatInt(exp.Unix()+3600, 10)
	foreign := peersign.QueryFor([]byte("stage key"), "clip-url", now, StageHLSTTL, ch, acc)
	for _, c := range []struct {
		what, channel, token string
		at                   time.Time
	}{
		{"expired", ch, tok, exp.Add(time.Second)},
		{"another channel", other, tok, now},
		{"forged signature", ch, expS + "." + enc + "." + strings.Repeat("0", len(sig)), now},
		{"another account", ch, expS + "." + otherAcc + "." + sig, now},
		{"a later expiry", ch, later + "." + enc + "." + sig, now},
		{"another kind of signed URL", ch, foreign.Get("exp") + "." + enc + "." + foreign.Get("sig"), now},
		{"no signature", ch, expS + "." + enc, now},
		{"garbage", ch, "not-a-token", now},
		{"empty", ch, "", now},
	} {
		if got, ok := s.validStageToken(c.channel, c.token, c.at); ok {
			t.Errorf("%s: valid for %q", c.what, got)
		}
	}
	other2 := &Surface{d: Deps{StageURLKey: []byte("another key")}}
	if got, ok := other2.validStageToken(ch, tok, now); ok {
		t.Errorf("another key: valid for %q", got)
	}
	// A key-holder's token made to last past twice StageHLSTTL is refused
	// (peersign's bound), one at StageHLSTTL is not.
	long, _ := s.stageToken(ch, acc, now.Add(StageHLSTTL+time.Hour))
	if _, ok := s.validStageToken(ch, long, now); ok {
		t.Error("a token expiring more than twice StageHLSTTL ahead is valid")
	}
}
