package media_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/media"
)

// TestDirectProbesTakeTurns: probing a direct file holds up to ProbeBytes
// and an ffprobe, and previewAdd takes up to 50 URLs a request, so probes
// take turns. With the one turn held by a probe whose file is still
// arriving, another waits ProbeWait and is refused (OTT's
// FfprobeTimeoutError) without fetching anything; once the first is done,
// the next probe runs. The held file is released by the test, so no
// timing decides who holds the turn.
func TestDirectProbesTakeTurns(t *testing.T) {
	t.Parallel()
	var clipHits atomic.Int64
	mux := http.NewServeMux()
	h := newHeld(t, 1, mux)
	mux.HandleFunc("/held.webm", h.hold("video/webm", clip))
	mux.HandleFunc("/clip.webm", func(w http.ResponseWriter, r *http.Request) {
		clipHits.Add(1)
		http.ServeContent(w, r, "clip.webm", time.Time{}, strings.NewReader(string(clip)))
	})
	srv := h.srv
	svc, err := media.New(media.Config{ProbeBytes: 1 << 20, MaxProbes: 1, ProbeWait: 50 * time.Millisecond, ProbeTimeout: time.Minute},
		h.fetch, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first := make(chan error, 1)
	go func() { _, err := svc.ResolveURL(ctx, srv.URL+"/held.webm"); first <- err }()
	<-h.entered
	if _, err := svc.ResolveURL(ctx, srv.URL+"/clip.webm"); code(err) != media.CodeProbeTimeout {
		t.Fatalf("a probe while the only turn is held: %v (code %q), want %q", err, code(err), media.CodeProbeTimeout)
	}
	if n := clipHits.Load(); n != 0 {
		t.Fatalf("the refused probe fetched its file %d times", n)
	}
	h.unblock()
	if err := <-first; err != nil {
		t.Fatalf("the held probe: %v", err)
	}
	vs, err := svc.ResolveURL(ctx, srv.URL+"/clip.webm")
	if err != nil || len(vs) != 1 || vs[0].Length < 2 {
		t.Fatalf("a probe once the turn is free: %v %s", err, fmt.Sprint(vs))
	}
}

// TestMetadataFetchesTakeTurns: manifests (and the other metadata
// fetches) are read whole, up to the egress cap, so they take turns too:
// with all 16 turns held by manifests still arriving, another waits
// ProbeWait and is refused without a fetch; released, it is read.
func TestMetadataFetchesTakeTurns(t *testing.T) {
	t.Parallel()
	const turns = 16
	var otherHits atomic.Int64
	mux := http.NewServeMux()
	h := newHeld(t, turns, mux)
	mux.HandleFunc("/held/", h.hold("", []byte(mediaPl)))
	mux.HandleFunc("/other.m3u8", func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		_, _ = io.WriteString(w, mediaPl)
	})
	srv := h.srv
	svc, err := media.New(media.Config{ProbeWait: 50 * time.Millisecond}, h.fetch, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	held := make(chan error, turns)
	for i := range turns {
		go func() { _, err := svc.ResolveURL(ctx, fmt.Sprintf("%s/held/%d.m3u8", srv.URL, i)); held <- err }()
	}
	for range turns {
		<-h.entered
	}
	if _, err := svc.ResolveURL(ctx, srv.URL+"/other.m3u8"); code(err) != media.CodeUpstream {
		t.Fatalf("a manifest while every turn is held: %v (code %q), want %q", err, code(err), media.CodeUpstream)
	}
	if n := otherHits.Load(); n != 0 {
		t.Fatalf("the refused fetch reached the server %d times", n)
	}
	h.unblock()
	for range turns {
		if err := <-held; err != nil {
			t.Fatalf("a held manifest: %v", err)
		}
	}
	if vs, err := svc.ResolveURL(ctx, srv.URL+"/other.m3u8"); err != nil || len(vs) != 1 {
		t.Fatalf("a manifest once the turns are free: %v %v", err, vs)
	}
}

// held is a loopback server whose hold handlers send their headers, say
// so on entered, and send their body only once the test runs unblock: a
// fetch still arriving, for as long as the test wants. fetch is an egress
// client that may reach it.
type held struct {
	srv     *httptest.Server
	fetch   *egress.Client
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

// newHeld serves mux, whose hold handlers may be entered n times.
func newHeld(t *testing.T, n int, mux *http.ServeMux) *held {
	t.Helper()
	h := &held{srv: httptest.NewServer(mux), entered: make(chan struct{}, n), release: make(chan struct{})}
	t.Cleanup(h.srv.Close)
	t.Cleanup(h.unblock) // before srv.Close, which waits for the handlers
	ap := netip.MustParseAddrPort(strings.TrimPrefix(h.srv.URL, "http://"))
	var err error
	if h.fetch, err = egress.New(egress.Config{AllowAddr: func(a netip.AddrPort) bool { return a == ap }}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *held) unblock() { h.once.Do(func() { close(h.release) }) }

// hold answers with ctype and body, the body only after unblock.
func (h *held) hold(ctype string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		h.entered <- struct{}{}
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(body)
	}
}
