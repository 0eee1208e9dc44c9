package ott_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestMediaTurnsPerAddress: a preview's probe of a direct file takes one
// of the node's probe turns, and a caller may name any file, a slow server
// of its own included. One address's previews of files that never arrive
// hold at most its share (media.TurnsPerCaller, 2): its third is refused
// at once (FfprobeTimeoutError, fetching nothing) while another address's
// preview is probed. Before the share, one address's previews side by side
// held every turn and the queue, and every other preview was refused.
func TestMediaTurnsPerAddress(t *testing.T) {
	t.Parallel()
	entered := make(chan string, 16)
	release := make(chan struct{})
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/webm")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		entered <- r.URL.Path
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	h := newHarness(t, opts{api: api, trustProxy: true})
	t.Cleanup(func() { close(release) }) // before the fixture server closes, which waits for its handlers
	preview := func(addr, file string) (*http.Response, error) {
		req, err := http.NewRequest("GET", h.url+"/api/data/previewAdd?input="+urlQuery(file), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-Forwarded-For", addr)
		return h.client.Do(req)
	}
	const attacker = "203.0.113.7"
	for i := range 2 {
		go func() {
			if res, err := preview(attacker, h.fixture("api/held/"+string(rune('a'+i))+".webm")); err == nil {
				res.Body.Close()
			}
		}()
	}
	<-entered
	<-entered
	third := make(chan *http.Response, 1)
	go func() {
		res, err := preview(attacker, h.fixture("api/held/c.webm"))
		if err != nil {
			t.Error(err)
		}
		third <- res
	}()
	select {
	case p := <-entered:
		t.Fatalf("one address's third probe took a turn (%s): its previews can hold every turn", p)
	case res := <-third:
		if res == nil {
			return
		}
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := res.Body.Read(buf)
		b.Write(buf[:n])
		res.Body.Close()
		if res.StatusCode < 400 || !strings.Contains(b.String(), "FfprobeTimeoutError") {
			t.Fatalf("the address's third probe: %d %s, want FfprobeTimeoutError", res.StatusCode, b.String())
		}
	}
	r := h.do("GET", "/api/data/previewAdd?input="+urlQuery(h.fixture("clip.mp4")), "", nil, "X-Forwarded-For", "198.51.100.9")
	if r.status != http.StatusOK {
		t.Fatalf("another address's preview while the first holds its share: %d %s", r.status, r.raw)
	}
}
