package hearthapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/hearthapi"
)

// announcingGate is gate, whose Access (asked by the clip delete after it
// read the clip) saves the clip's announcement first, as a PostClip
// finishing at that moment does, and which records what UnpostClip is
// given.
type announcingGate struct {
	gate
	rs       *recording.Service
	clip     string
	message  string
	mu       sync.Mutex
	unposted []string // message ids, each with the url
}

func (g *announcingGate) Access(ctx context.Context, id string, admin bool, stage string) (hearthapi.Access, error) {
	if err := g.rs.SetClipMessage(ctx, g.clip, g.message); err != nil && fault.KindOf(err) != fault.NotFound {
		return hearthapi.Access{}, err
	}
	return g.gate.Access(ctx, id, admin, stage)
}

func (g *announcingGate) UnpostClip(_ context.Context, c *recording.Clip, url string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unposted = append(g.unposted, c.MessageID+" "+url)
	return nil
}

// TestDeleteClipUnpostsAnnouncementSavedMeanwhile: a clip's delete read the
// clip, then deleted it, and unposted the message id it had read; a
// PostClip saving the clip's announcement between the two left it out, so
// the announcement kept its link to a clip that answers 404. The delete
// now unposts the message id the deleted row held.
func TestDeleteClipUnpostsAnnouncementSavedMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	rs, err := recording.New(recording.Config{Dir: t.TempDir(), FFmpeg: func() string { return "false" }}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &recording.Clip{ID: identity.NewID(), StageID: "stage-main", Duration: time.Second, CreatedBy: "acc-user", CreatedAt: time.Now().UTC()}
	if err := db.Recordings().CreateClip(ctx, c); err != nil {
		t.Fatal(err)
	}
	g := &announcingGate{rs: rs, clip: c.ID, message: identity.NewID()}
	api, err := hearthapi.New(hearthapi.Deps{Recordings: rs, Gate: g, Auth: func(context.Context, string) (string, bool, error) {
		return "acc-user", false, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	req, _ := http.NewRequest("DELETE", srv.URL+"/api/clips/"+c.ID, nil)
	req.Header.Set("Authorization", "Bearer user")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	want := g.message + " /api/clips/" + c.ID + "/file"
	if len(g.unposted) != 1 || g.unposted[0] != want {
		t.Fatalf("unposted %q, want the announcement saved while the clip was being deleted (%q)", g.unposted, want)
	}
}
