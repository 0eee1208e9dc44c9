package live

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/peersign"
)

// Without S3, a broadcast's HLS (playlists, segments, LL-HLS parts,
// thumbnails) is only on the node its publisher is connected to. Any other
// node serves it by proxying to that node: it checks the viewer's access
// itself, then fetches from the ingest node's peer route with a URL signed
// by the cluster's shared key, valid for a minute (recordings do the same
// for their files: internal/recording/peers.go).

// Peers tells where the other nodes of a cluster serve.
type Peers interface {
	// NodeURL is the base URL node nodeID serves other nodes at ("" when
	// it has none).
	NodeURL(ctx context.Context, nodeID string) (string, error)
}

// peerName is what the peer route serves of a stage: the master playlist,
// a variant's playlist, segment or part, a thumbnail; and the broadcast's
// details (StatusPeerName).
var peerName = regexp.MustCompile(`^(stream\.m3u8|thumbnail\.jpg|preview\.gif|status\.json|[0-9]{1,3}/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127})$`)

// StatusPeerName is the peer route's name for the details of a broadcast
// (its broadcaster, stream details, output settings and health, which
// only the node running it has): the admin's status on another node asks
// for them (IngestStatusURL).
const StatusPeerName = "status.json"

// IngestPeerURL is the signed URL at which the node running stageID's
// broadcast serves name (see peerName) to this node, when that node is
// another one and S3 is off; while the stage is offline, a thumbnail's is
// the node's that made the newest one. "" means: serve it here, as before (the
// broadcast runs here, or nowhere, or S3 serves every node, or the ingest
// node has no address: docs/scaling.md).
func (s *Service) IngestPeerURL(ctx context.Context, stageID, name string) (string, error) {
	if name == StatusPeerName || s.Settings().S3.Enabled {
		return "", nil
	}
	return s.peerURL(ctx, stageID, name)
}

// IngestStatusURL is the signed URL at which the node running stageID's
// broadcast, when it is another one, serves the broadcast's details
// (StatusPeerName), S3 or not; "" when it runs here or nowhere, or that
// node has no address.
func (s *Service) IngestStatusURL(ctx context.Context, stageID string) (string, error) {
	return s.peerURL(ctx, stageID, StatusPeerName)
}

func (s *Service) peerURL(ctx context.Context, stageID, name string) (string, error) {
	if s.cfg.Viewers == nil || s.cfg.Peers == nil || len(s.cfg.PeerKey) == 0 || !peerName.MatchString(name) {
		return "", nil
	}
	if _, err := s.stage(stageID); err != nil {
		return "", err
	}
	node := s.peerNode(ctx, stageID, name)
	if node == "" {
		return "", nil
	}
	base, err := s.nodeURL(ctx, node)
	if err != nil {
		return "", err
	}
	if base == "" {
		return "", nil
	}
	q := peersign.Query(s.cfg.PeerKey, livePeer, s.cfg.Now(), stageID, name)
	return base + "/hls/peer/" + url.PathEscape(stageID) + "/" + name + "?" + q.Encode(), nil
}

// IngestNode names the other node running stageID's broadcast: "" when
// it runs here (or is starting or draining here), nowhere, or the nodes
// do not count each other's broadcasts.
func (s *Service) IngestNode(stageID string) string {
	c := s.cfg.Viewers
	st, err := s.stage(stageID)
	if c == nil || err != nil {
		return ""
	}
	st.mu.Lock()
	here := st.cur != nil
	st.mu.Unlock()
	if here {
		return "" // this node's output
	}
	if nodes := s.reachable(c.Elsewhere(st.broadcastKey())); len(nodes) > 0 {
		return nodes[0]
	}
	return ""
}

// A node that crashed keeps its broadcasts counted until the presence
// tracker forgets it (15 s of silence), and every proxied request for its
// streams meanwhile waited for a connection that never came. When a
// request finds a node unreachable (IngestUnreachable), that node is taken
// for gone until it is heard from again: its stages are offline here and
// served from this node (the offline playlist) at once. A node that is
// alive speaks within the tracker's interval (5 s) and is tried again.
type goneNodes struct {
	mu sync.Mutex
	at map[string]time.Time // when a request last found the node unreachable
}

// peerNode is the other node that serves name of stageID: the one running
// its broadcast, or for a thumbnail while the stage is offline, the one
// that made the newest (thumbs.go); "" for this node.
func (s *Service) peerNode(ctx context.Context, stageID, name string) string {
	node := s.IngestNode(stageID)
	if node == "" && (name == thumbName || name == previewName) && !s.runsHere(stageID) {
		node = s.thumbnailNode(ctx, stageID)
	}
	return node
}

// IngestUnreachable tells the service that the node serving name of
// stageID (IngestPeerURL) could not be reached (nothing listens at its
// address, or no connection was taken in time).
func (s *Service) IngestUnreachable(ctx context.Context, stageID, name string) {
	node := s.peerNode(ctx, stageID, name)
	if node == "" {
		return
	}
	g := &s.gone
	g.mu.Lock()
	if g.at == nil || len(g.at) >= 256 {
		g.at = map[string]time.Time{}
	}
	g.at[node] = time.Now() // the tracker's clock (Heard)
	g.mu.Unlock()
	s.log.Warn("live: the node running a stream cannot be reached; its stage is offline here until it is heard from", "stage", stageID, "node", node)
}

// reachable is nodes less those taken for gone.
func (s *Service) reachable(nodes []string) []string {
	g := &s.gone
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.at) == 0 {
		return nodes
	}
	out := nodes[:0:0]
	for _, n := range nodes {
		if at, ok := g.at[n]; ok {
			if !s.cfg.Viewers.Heard(n).After(at) {
				continue
			}
			delete(g.at, n) // heard since: alive
		}
		out = append(out, n)
	}
	return out
}

// nodeURLTTL is how long a node's URL is kept after reading it: a node
// writes its URL at start, and each viewer of a proxied stream asks for
// it every second or two.
const nodeURLTTL = 10 * time.Second

// nodeURLs caches Peers' answers (one entry per node of the cluster).
type nodeURLs struct {
	mu   sync.Mutex
	urls map[string]cachedURL
}

type cachedURL struct {
	url string
	at  time.Time
}

func (s *Service) nodeURL(ctx context.Context, node string) (string, error) {
	now := s.cfg.Now()
	c := &s.peerURLs
	c.mu.Lock()
	e, ok := c.urls[node]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < nodeURLTTL && !now.Before(e.at) {
		return e.url, nil
	}
	u, err := s.cfg.Peers.NodeURL(ctx, node)
	if err != nil && !errors.Is(err, fault.NotFound) {
		return "", err
	}
	c.mu.Lock()
	if c.urls == nil || len(c.urls) >= 256 {
		c.urls = map[string]cachedURL{}
	}
	c.urls[node] = cachedURL{url: u, at: now}
	c.mu.Unlock()
	return u, nil
}

// VerifyIngestPeer checks a peer URL's signature and expiry (made by
// IngestPeerURL on a node of the same cluster).
func (s *Service) VerifyIngestPeer(stageID, name, exp, sig string) bool {
	return peerName.MatchString(name) && peersign.Valid(s.cfg.PeerKey, livePeer, s.cfg.Now(), exp, sig, stageID, name)
}

// livePeer is the signing label of live peer URLs (package peersign).
const livePeer = "live-peer"
