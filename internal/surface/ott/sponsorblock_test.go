package ott_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/hearth-community/hearth/internal/watch"
)

// TestSponsorBlockOverSocket: a YouTube video's SponsorBlock segments (from
// a local server standing in for SponsorBlock) reach the room's sockets as
// OTT's videoSegments, and playing into a sponsor segment skips it with
// OTT's eventcustom notice and a position sync past the segment.
func TestSponsorBlockOverSocket(t *testing.T) {
	t.Parallel()
	api := http.NewServeMux()
	api.HandleFunc("/yt/videos", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"items":[{"id":%q,"snippet":{"title":"Has a sponsor","thumbnails":{}},"contentDetails":{"duration":"PT3M20S"}}]}`,
			r.URL.Query().Get("id"))
	})
	api.HandleFunc("/api/skipSegments", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("videoID") != "aaaaaaaaaaa" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `[{"category":"sponsor","actionType":"skip","segment":[0,100],"UUID":"seg1","videoDuration":200}]`)
	})
	h := newHarness(t, opts{api: api})
	tok := h.grant()
	h.createRoom(tok, "sponsored", nil)
	c, _ := h.join("sponsored", tok)
	if r := h.do("POST", "/api/room/sponsored/queue", tok, map[string]any{"service": "youtube", "id": "aaaaaaaaaaa"}); r.status != 200 {
		t.Fatalf("queue: %d %s", r.status, r.raw)
	}
	s := c.until("sync", func(m map[string]any) bool {
		v, _ := m["videoSegments"].([]any)
		return len(v) > 0
	})
	seg := s["videoSegments"].([]any)[0].(map[string]any)
	if seg["category"] != "sponsor" || seg["startTime"] != 0.0 || seg["endTime"] != 100.0 || seg["videoDuration"] != 200.0 || seg["UUID"] != "seg1" {
		t.Fatalf("videoSegments: %v", s["videoSegments"])
	}
	c.req(watch.ReqPlayback, map[string]any{"state": true})
	if n := c.until("eventcustom"); n["text"] != "Skipped sponsor" {
		t.Fatalf("notice: %v", n)
	}
	c.until("sync", func(m map[string]any) bool {
		p, ok := m["playbackPosition"].(float64)
		return ok && p >= 100
	})
}
