package live_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// clusterCounter is a ViewerCounter whose other nodes are set by the test.
type clusterCounter struct {
	mu     sync.Mutex
	counts map[string]int
	others map[string][]string
}

func (c *clusterCounter) Add(k string)  { c.mu.Lock(); c.counts[k]++; c.mu.Unlock() }
func (c *clusterCounter) Done(k string) { c.mu.Lock(); c.counts[k]--; c.mu.Unlock() }
func (c *clusterCounter) Count(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[k] + len(c.others[k])
}
func (c *clusterCounter) Elsewhere(k string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.others[k]
}
func (c *clusterCounter) Heard(string) time.Time { return time.Time{} }

type peerURLs map[string]string

func (p peerURLs) NodeURL(_ context.Context, node string) (string, error) { return p[node], nil }

// TestIngestPeerURL: while a stage's broadcast runs on another node, the
// URL at which that node serves the stage's HLS is signed for that stage
// and name and accepted for a minute only; unsigned, forged, expired or
// re-aimed requests are refused. A node with no address, S3 and a
// broadcast running here all mean: serve it here.
func TestIngestPeerURL(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	key := []byte("0123456789abcdef0123456789abcdef")
	counter := &clusterCounter{counts: map[string]int{}, others: map[string][]string{}}
	nodes := peerURLs{"node-a": "http://10.0.0.1:8080", "node-c": ""}
	s := newService(t, db, live.Config{Viewers: counter, Peers: nodes, PeerKey: key, Now: clock, DefaultStreamKey: "abc123"})
	other := newService(t, db, live.Config{PeerKey: []byte("another cluster's key 0123456789"), Now: clock})
	stage := s.DefaultStageID()

	if u, err := s.IngestPeerURL(ctx, stage, "stream.m3u8"); err != nil || u != "" {
		t.Fatalf("offline stage: %q %v", u, err)
	}
	counter.mu.Lock()
	counter.others["broadcast."+stage] = []string{"node-a"}
	counter.mu.Unlock()
	if u, err := s.IngestPeerURL(ctx, stage, "../../etc/passwd"); err != nil || u != "" {
		t.Fatalf("a name the peer route does not serve: %q %v", u, err)
	}
	raw, err := s.IngestPeerURL(ctx, stage, "0/stream-abc-12.3.ts")
	if err != nil || !strings.HasPrefix(raw, "http://10.0.0.1:8080/hls/peer/"+stage+"/0/stream-abc-12.3.ts?") {
		t.Fatalf("peer URL: %q %v", raw, err)
	}
	u, _ := url.Parse(raw)
	exp, sig := u.Query().Get("exp"), u.Query().Get("sig")
	for _, c := range []struct {
		what        string
		s           *live.Service
		stage, name string
		exp, sig    string
		want        bool
	}{
		{"as signed", s, stage, "0/stream-abc-12.3.ts", exp, sig, true},
		{"unsigned", s, stage, "0/stream-abc-12.3.ts", "", "", false},
		{"no signature", s, stage, "0/stream-abc-12.3.ts", exp, "", false},
		{"forged", s, stage, "0/stream-abc-12.3.ts", exp, strings.Repeat("0", 64), false},
		{"another name", s, stage, "0/stream.m3u8", exp, sig, false},
		{"another stage", s, "another-stage", "0/stream-abc-12.3.ts", exp, sig, false},
		{"a later expiry", s, stage, "0/stream-abc-12.3.ts", "9999999999", sig, false},
		{"another cluster's key", other, stage, "0/stream-abc-12.3.ts", exp, sig, false},
	} {
		if got := c.s.VerifyIngestPeer(c.stage, c.name, c.exp, c.sig); got != c.want {
			t.Errorf("%s: accepted %v, want %v", c.what, got, c.want)
		}
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if s.VerifyIngestPeer(stage, "0/stream-abc-12.3.ts", exp, sig) {
		t.Error("an expired peer URL is accepted")
	}

	// The ingest node has no address: served here, as without the proxy.
	counter.mu.Lock()
	counter.others["broadcast."+stage] = []string{"node-c"}
	counter.mu.Unlock()
	if u, err := s.IngestPeerURL(ctx, stage, "stream.m3u8"); err != nil || u != "" {
		t.Fatalf("ingest node without an address: %q %v", u, err)
	}
	counter.mu.Lock()
	counter.others["broadcast."+stage] = []string{"node-a"}
	counter.mu.Unlock()
	// S3 serves every node: nothing is proxied.
	if err := s.UpdateSettings(ctx, func(st *live.Settings) error {
		st.S3.Enabled, st.S3.Endpoint, st.S3.Bucket, st.S3.AccessKey, st.S3.Secret = true, "http://127.0.0.1:1", "b", "k", "s"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if u, err := s.IngestPeerURL(ctx, stage, "stream.m3u8"); err != nil || u != "" {
		t.Fatalf("with S3 on: %q %v", u, err)
	}
}
