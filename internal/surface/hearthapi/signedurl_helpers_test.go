package hearthapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/openapitest"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/hearthapi"
)

// losingGate is gate, except that the accounts in lost have lost their
// access to every stage since.
type losingGate struct {
	gate
	lost sync.Map
}

func (g *losingGate) Access(ctx context.Context, id string, admin bool, stage string) (hearthapi.Access, error) {
	if _, ok := g.lost.Load(id); ok {
		return hearthapi.Access{}, fault.New(fault.NotFound, "recording not found")
	}
	return g.gate.Access(ctx, id, admin, stage)
}

// signedURLAPI is the recordings API the signed-URL tests run against:
// SQLite, recordings kept in dir, ffmpeg the binary run, signed with a
// cluster key, a clock the test moves (now), a losingGate, and the tokens
// "admin", "user" and "kicked".
type signedURLAPI struct {
	srv  *httptest.Server
	db   *store.DB
	rs   *recording.Service
	gate *losingGate
	now  atomic.Int64
}

func newSignedURLAPI(t *testing.T, dir, ffmpeg string) *signedURLAPI {
	return newSignedURLNode(t, storetest.OpenSQLite(t), dir, ffmpeg, recording.Config{PeerKey: []byte("cluster key")})
}

// newSignedURLNode is one node of a cluster for the signed-URL tests: the
// API of newSignedURLAPI over db (which other nodes may share), with the
// node's id, the nodes' key and how it finds the others taken from node
// (NodeID, PeerKey, Peers), and its ffmpeg slots too (MaxJobs, JobWait).
func newSignedURLNode(t *testing.T, db *store.DB, dir, ffmpeg string, node recording.Config) *signedURLAPI {
	a := &signedURLAPI{gate: &losingGate{}}
	a.now.Store(time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC).UnixNano())
	rs, err := recording.New(recording.Config{Dir: dir, DefaultEnabled: true, FFmpeg: func() string { return ffmpeg },
		NodeID: node.NodeID, PeerKey: node.PeerKey, Peers: node.Peers, MaxJobs: node.MaxJobs, JobWait: node.JobWait, Now: a.clock},
		db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := hearthapi.New(hearthapi.Deps{Recordings: rs, Gate: a.gate, Auth: func(_ context.Context, tok string) (string, bool, error) {
		switch tok {
		case "admin":
			return "acc-admin", true, nil
		case "user", "kicked":
			return "acc-" + tok, false, nil
		}
		return "", false, fault.New(fault.Unauthorized, "bad token")
	}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	a.db, a.rs = db, rs
	return a
}

func (a *signedURLAPI) clock() time.Time { return time.Unix(0, a.now.Load()) }

// fileURL is the answer of the routes that hand out a signed file URL
// (a clip's file-url, a recording's download-url).
type fileURL struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// specGetter is GET against srv, each request and answer checked against
// api/hearth.yaml: get(path, bearer token or "", header name, value, ...).
func specGetter(t *testing.T, srv *httptest.Server) func(path, token string, hdr ...string) (*http.Response, []byte) {
	client := openapitest.NewTransport(t, openapitest.Load(t, "hearth.yaml"), http.DefaultTransport).Client()
	return func(path, token string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
}

// signedURLOf is the signed URL the route at path hands out to token's
// account (not to be cached: Cache-Control no-store).
func signedURLOf(t *testing.T, get func(path, token string, hdr ...string) (*http.Response, []byte), path, token string) fileURL {
	t.Helper()
	res, b := get(path, token)
	var u fileURL
	if res.StatusCode != 200 || json.Unmarshal(b, &u) != nil || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s as %q: %d %v %s", path, token, res.StatusCode, res.Header, b)
	}
	return u
}
