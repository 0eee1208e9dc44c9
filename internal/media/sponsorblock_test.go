package media_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/media"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/watch"
)

// TestSponsorBlockSegments runs the segment fetch against a local server
// standing in for the SponsorBlock API: the request OTT's library makes,
// the answer turned into OTT's segment shape (malformed and unknown entries
// dropped), 404 as "no segments", other statuses as errors, and a cache per
// video in the database.
func TestSponsorBlockSegments(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if r.URL.Path != "/api/skipSegments" {
					http.NotFound(w, r)
					return
				}
				want := `["sponsor","intro","outro","interaction","selfpromo","music_offtopic","preview"]`
				if got := r.URL.Query().Get("categories"); got != want {
					http.Error(w, "categories "+got, 400)
					return
				}
				switch r.URL.Query().Get("videoID") {
				case "aaaaaaaaaaa":
					fmt.Fprint(w, `[{"category":"sponsor","actionType":"skip","segment":[2.5,10],"UUID":"u1","videoDuration":200,"locked":0,"votes":3},
						{"category":"intro","actionType":"skip","segment":[0,2],"UUID":"u2","videoDuration":200},
						{"category":"filler","segment":[20,30],"UUID":"u3","videoDuration":200},
						{"category":"outro","segment":[50],"UUID":"u4","videoDuration":200},
						{"category":"outro","segment":[60,55],"UUID":"u5","videoDuration":200}]`)
				case "bbbbbbbbbbb":
					http.NotFound(w, r)
				default:
					w.WriteHeader(http.StatusTooManyRequests)
				}
			}))
			t.Cleanup(srv.Close)
			ap := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
			fetch, err := egress.New(egress.Config{AllowAddr: func(a netip.AddrPort) bool { return a == ap }})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			svc, err := media.New(media.Config{SponsorBlockAPIBase: srv.URL, Now: func() time.Time { return now }},
				fetch, nil, eng.Open(t).MediaCache(), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			want := []watch.Segment{
				{UUID: "u1", Category: "sponsor", ActionType: "skip", StartTime: 2.5, EndTime: 10, VideoDuration: 200},
				{UUID: "u2", Category: "intro", ActionType: "skip", StartTime: 0, EndTime: 2, VideoDuration: 200},
			}
			for i := range 2 { // the second answer comes from the cache
				got, err := svc.Segments(ctx, "aaaaaaaaaaa")
				if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("segments (call %d) = %+v, %v; want %+v", i, got, err, want)
				}
			}
			if calls.Load() != 1 {
				t.Fatalf("SponsorBlock asked %d times, want 1 (cached)", calls.Load())
			}
			if got, err := svc.Segments(ctx, "bbbbbbbbbbb"); err != nil || len(got) != 0 {
				t.Fatalf("404: %+v %v", got, err)
			}
			if _, err := svc.Segments(ctx, "ccccccccccc"); err == nil {
				t.Fatal("429 from SponsorBlock must be an error")
			}
			if _, err := svc.Segments(ctx, "../../etc"); err == nil {
				t.Fatal("a malformed video id must be refused")
			}
			before := calls.Load()
			if _, err := svc.Segments(ctx, "bbbbbbbbbbb"); err != nil || calls.Load() != before {
				t.Fatalf("no-segments answer not cached: %v, %d calls", err, calls.Load()-before)
			}
			now = now.Add(2 * time.Hour) // past the no-segments lifetime, within a week
			if _, err := svc.Segments(ctx, "bbbbbbbbbbb"); err != nil || calls.Load() != before+1 {
				t.Fatalf("no-segments answer not refreshed after an hour: %v", err)
			}
			if _, err := svc.Segments(ctx, "aaaaaaaaaaa"); err != nil || calls.Load() != before+1 {
				t.Fatalf("segments refetched within their week: %v", err)
			}
		})
	}
}
