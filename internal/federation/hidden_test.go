package federation_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/federation/fedtest"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestHiddenStageActorDocument: a hidden stage channel actor's document
// (its community private) is a bare key document for a signed fetch by a
// server it is leaving (a record of its Undo to that server, unexpired),
// and the unknown account's 404 for everyone else: before the record,
// after it expired, another server, an unsigned fetch, another hidden
// actor, and a deleted channel. A public one is its full document for all.
func TestHiddenStageActorDocument(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			db := e.Open(t)
			var serverURL atomic.Value
			serverURL.Store("")
			public := map[string]bool{"hid": false, "other": false, "open": true}
			s := newService(t, db, federation.Config{
				Settings: func() federation.Settings {
					return federation.Settings{Enabled: true, Username: "streamer", ServerURL: serverURL.Load().(string), Name: "Stage"}
				},
				StageChannel: func(_ context.Context, id string) (federation.StageChannelInfo, bool) {
					p, ok := public[id]
					return federation.StageChannelInfo{Name: "Secret " + id, Public: p}, ok
				},
			})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				doc, err := s.ActorDocument(r.Context(), strings.TrimPrefix(r.URL.Path, "/federation/user/"), r)
				if err != nil {
					http.Error(w, err.Error(), http.StatusNotFound)
					return
				}
				_ = json.NewEncoder(w).Encode(doc)
			}))
			t.Cleanup(srv.Close)
			serverURL.Store(srv.URL)
			alice, mallory := fedtest.NewPeer(t, "alice"), fedtest.NewPeer(t, "mallory")
			aliceHost := strings.TrimPrefix(alice.URL(), "http://")
			actor := func(id string) string { return srv.URL + "/federation/user/" + federation.StagePrefix + id }
			ctx := context.Background()
			fed := db.Federation()
			notFound := func(who string, r fedtest.Reply) {
				t.Helper()
				if r.Status != 404 {
					t.Errorf("%s = %d %s, want 404", who, r.Status, r.Body)
				}
			}
			notFound("alice before any unfollow", alice.Fetch(t, actor("hid")))

			now := time.Now().UTC()
			if err := fed.PutLeaving(ctx, federation.StagePrefix+"hid", aliceHost, now.Add(time.Hour), now); err != nil {
				t.Fatal(err)
			}
			r := alice.Fetch(t, actor("hid"))
			var doc map[string]any
			if r.Status != 200 || json.Unmarshal(r.Body, &doc) != nil {
				t.Fatalf("alice's fetch while leaving = %d %s", r.Status, r.Body)
			}
			if key, _ := doc["publicKey"].(map[string]any); doc["id"] != actor("hid") || key["owner"] != actor("hid") || key["publicKeyPem"] == "" {
				t.Errorf("key document = %s", r.Body)
			}
			if strings.Contains(string(r.Body), "Secret") || doc["name"] != nil || doc["summary"] != nil || doc["url"] != nil {
				t.Errorf("the key document tells about the channel: %s", r.Body)
			}
			notFound("another server", mallory.Fetch(t, actor("hid")))
			notFound("alice, of another hidden actor", alice.Fetch(t, actor("other")))
			res, err := http.Get(actor("hid"))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 404 {
				t.Errorf("an unsigned fetch = %d, want 404", res.StatusCode)
			}
			// A deleted channel is no actor, record or not.
			if err := fed.PutLeaving(ctx, federation.StagePrefix+"gone", aliceHost, now.Add(time.Hour), now); err != nil {
				t.Fatal(err)
			}
			notFound("alice, of a deleted channel", alice.Fetch(t, actor("gone")))
			// The record expired: unknown again.
			if err := fed.PutLeaving(ctx, federation.StagePrefix+"hid", aliceHost, now.Add(-time.Second), now); err != nil {
				t.Fatal(err)
			}
			notFound("alice once the record expired", alice.Fetch(t, actor("hid")))
			// A public stage channel's document is everyone's, in full.
			if r := mallory.Fetch(t, actor("open")); r.Status != 200 || !strings.Contains(string(r.Body), `"name":"Secret open"`) {
				t.Errorf("a public stage actor, signed fetch = %d %s", r.Status, r.Body)
			}
			res, err = http.Get(actor("open"))
			if err != nil {
				t.Fatal(err)
			}
			var full map[string]any
			err = json.NewDecoder(res.Body).Decode(&full)
			res.Body.Close()
			if res.StatusCode != 200 || err != nil || full["name"] != "Secret open" {
				t.Errorf("a public stage actor, unsigned fetch = %d %v", res.StatusCode, full)
			}
		})
	}
}
