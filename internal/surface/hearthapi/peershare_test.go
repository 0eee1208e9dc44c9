package hearthapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"

	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/hearthapi"
)

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestPeerDownloadsPerAddress: a node answers a download of a recording
// another node holds by fetching it from that node, at its client's pace
// (a public stage's recordings need no account). One address's downloads
// held open (here: the peer's answer never comes) take at most its share
// of those fetches: its third is refused at once (503), fetching nothing,
// while another address's download is fetched. Before the share, one
// address held all 256 and every other download through the node got 503.
func TestPeerDownloadsPerAddress(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	seg := testSegment(t)
	db := storetest.OpenSQLite(t)
	peers := &nodeURLs{}
	key := []byte("cluster key")
	a := newSignedURLNode(t, db, t.TempDir(), "ffmpeg", recording.Config{NodeID: "node-a", PeerKey: key, Peers: peers})
	peers.m.Store("node-a", a.srv.URL)
	id := recordOn(t, a, seg, "Night set")

	entered := make(chan struct{}, 8)
	release := make(chan struct{})
	held := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return nil, errors.New("held open")
	})}
	rs, err := recording.New(recording.Config{Dir: t.TempDir(), DefaultEnabled: true, FFmpeg: func() string { return "ffmpeg" },
		NodeID: "node-b", PeerKey: key, Peers: peers}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := hearthapi.New(hearthapi.Deps{Recordings: rs, Gate: &losingGate{}, PeerClient: held, TrustProxy: true,
		Auth: func(context.Context, string) (string, bool, error) { return "acc-user", false, nil }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	b := httptest.NewServer(mux)
	t.Cleanup(b.Close)
	t.Cleanup(func() { close(release) }) // before b closes, which waits for its handlers

	download := func(addr string) <-chan int {
		out := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("GET", b.URL+"/api/recordings/"+id+"/download", nil)
			req.Header.Set("Authorization", "Bearer user")
			req.Header.Set("X-Forwarded-For", addr)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				out <- 0
				return
			}
			res.Body.Close()
			out <- res.StatusCode
		}()
		return out
	}
	const attacker = "203.0.113.7"
	download(attacker)
	download(attacker)
	<-entered
	<-entered
	third := download(attacker)
	select {
	case <-entered:
		t.Fatal("one address's third download reached the peer past its share: its downloads can take every fetch")
	case code := <-third:
		if code != http.StatusServiceUnavailable {
			t.Fatalf("one address's third download: %d, want 503", code)
		}
	}
	other := download("198.51.100.9")
	select {
	case <-entered: // fetched from the peer
	case code := <-other:
		t.Fatalf("another address's download while the first holds its share: %d", code)
	}
}
