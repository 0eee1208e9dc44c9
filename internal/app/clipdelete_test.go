package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// engines runs f on SQLite with the in-process bus, and on PostgreSQL
// with NATS where the environment has them.
func engines(t *testing.T, f func(t *testing.T, cfg config.Config)) {
	for _, name := range []string{"sqlite+local", "postgres+nats"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			if name == "postgres+nats" {
				cfg.Database = storetest.PostgresDSN(t)
				if u := natsURL(); u != "" {
					cfg.Bus = u
				}
			}
			f(t, cfg)
		})
	}
}

// seedClip stores a finished recording of stage and a clip of it made by
// maker, as the recorder leaves them.
func seedClip(t *testing.T, a *app.App, cfg config.Config, stage, maker string) *recording.Clip {
	t.Helper()
	ctx := context.Background()
	// Not truncated: the recordings sweep deletes a clip or recording of a
	// stage it did not list when it was made before that listing, and a
	// time rounded down into the past let a sweep that listed the stages
	// just before the stage channel was made delete the seeded clip
	// (TestSignedClipURLOfDemotedAdmin's 404 in a loaded CI run).
	now := time.Now().UTC()
	end := now.Add(10 * time.Second)
	rec := &recording.Recording{ID: identity.NewID(), StageID: stage, Title: "r", StartedAt: now, EndedAt: &end,
		Duration: 10 * time.Second, NodeID: "gone"}
	if err := a.DB.Recordings().CreateRecording(ctx, rec); err != nil {
		t.Fatal(err)
	}
	c := &recording.Clip{ID: identity.NewID(), StageID: stage, RecordingID: rec.ID, Title: "c", Duration: 2 * time.Second,
		Size: 4, CreatedBy: maker, CreatedAt: now}
	if err := a.DB.Recordings().CreateClip(ctx, c); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cfg.DataDir, "recordings", "clips")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, c.ID+".mp4"), []byte("mp4!"), 0o640); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClipMakerDeletesOwnClip: a clip's maker deletes it (it counts
// against their clip budget), as do the stage's managers; another viewer
// is refused (403), someone who may not see the stage gets the unknown id's
// 404. The chat message that announced a deleted clip (the one kept on the
// clip, however busy the chat) no longer links it (MESSAGE_UPDATE to the
// channel's members), so no one is offered a clip that answers 404; other
// messages, the link pasted again included, stay as they are.
func TestClipMakerDeletesOwnClip(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, cfg config.Config) {
		a, _ := start(t, cfg, nil)
		base := a.HTTP.URL()
		ann, bob, cat, eve := register(t, base, "ann"), register(t, base, "bob"), register(t, base, "cat"), register(t, base, "eve")
		sid := newServer(t, base, ann.AccessToken)
		for _, u := range []login{bob, cat} {
			if code := call(t, "POST", base+"/servers/"+sid+"/join", u.AccessToken, nil, nil); code != 200 && code != 201 {
				t.Fatalf("join: %d", code)
			}
		}
		var stage struct{ ID string }
		if code := call(t, "POST", base+"/servers/"+sid+"/channels", ann.AccessToken, map[string]string{"name": "Stage", "type": "stage"}, &stage); code != 201 {
			t.Fatalf("stage channel: %d", code)
		}
		bobs, cats := seedClip(t, a, cfg, stage.ID, bob.User.ID), seedClip(t, a, cfg, stage.ID, cat.User.ID)
		// The announcement PostClip makes and keeps on the clip; before it,
		// more messages than a look through the chat around the clip's
		// making would see, and after it bob's own messages that paste the
		// same link or only mention the clip's name: only the announcement
		// is edited.
		link := "/api/clips/" + bobs.ID + "/file"
		var crowd []messages.PostInput
		for range 1001 {
			crowd = append(crowd, messages.PostInput{ConversationID: stage.ID, Kind: messages.KindChannel, AuthorID: cat.User.ID, Body: "so good"})
		}
		if _, err := a.Messages.PostBatch(t.Context(), crowd); err != nil {
			t.Fatal(err)
		}
		var posted, pasted, other struct{ ID string }
		for _, m := range []struct {
			body string
			into *struct{ ID string }
		}{{"🎬 c (2 s): " + link, &posted}, {"again: " + link, &pasted}, {"nice clip", &other}} {
			if code := call(t, "POST", base+"/channels/"+stage.ID+"/messages", bob.AccessToken, map[string]string{"content": m.body}, m.into); code != 201 {
				t.Fatalf("post: %d", code)
			}
		}
		if err := a.Recordings.SetClipMessage(t.Context(), bobs.ID, posted.ID); err != nil {
			t.Fatal(err)
		}
		// cat's clip was cut before clips kept their message: a message of
		// cat's with its link is left as it is.
		catsLink := "/api/clips/" + cats.ID + "/file"
		var catsPost struct{ ID string }
		if code := call(t, "POST", base+"/channels/"+stage.ID+"/messages", cat.AccessToken, map[string]string{"content": "🎬 c (2 s): " + catsLink}, &catsPost); code != 201 {
			t.Fatalf("post: %d", code)
		}
		gw := dialSocket(t, "ws"+strings.TrimPrefix(base, "http")+"/ws?token="+cat.AccessToken)
		gw.await("READY", func(f map[string]any) bool { return f["t"] == "READY" })

		for _, c := range []struct {
			name, token, id string
			want            int
		}{
			{"no token", "", bobs.ID, 401},
			{"a stranger", eve.AccessToken, bobs.ID, 404},
			{"a stranger, unknown id", eve.AccessToken, identity.NewID(), 404},
			{"another viewer", cat.AccessToken, bobs.ID, 403},
			{"its maker, someone else's clip", bob.AccessToken, cats.ID, 403},
			{"its maker", bob.AccessToken, bobs.ID, 204},
			{"the stage's manager", ann.AccessToken, cats.ID, 204},
		} {
			if code := call(t, "DELETE", base+"/api/clips/"+c.id, c.token, nil, nil); code != c.want {
				t.Fatalf("%s: %d, want %d", c.name, code, c.want)
			}
		}
		for _, id := range []string{bobs.ID, cats.ID} {
			if code := call(t, "GET", base+"/api/clips/"+id, ann.AccessToken, nil, nil); code != 404 {
				t.Fatalf("deleted clip: %d", code)
			}
		}

		for _, c := range []struct{ id, want string }{
			{posted.ID, "🎬 c (2 s): (clip deleted)"},
			{pasted.ID, "again: " + link},
			{other.ID, "nice clip"},
			{catsPost.ID, "🎬 c (2 s): " + catsLink},
		} {
			var m struct{ Content string }
			if code := call(t, "GET", base+"/channels/"+stage.ID+"/messages/"+c.id, cat.AccessToken, nil, &m); code != 200 || m.Content != c.want {
				t.Fatalf("message %s: %d %q, want %q", c.id, code, m.Content, c.want)
			}
		}
		up := gw.await("MESSAGE_UPDATE of the announcement", func(f map[string]any) bool {
			d, _ := f["d"].(map[string]any)
			return f["t"] == "MESSAGE_UPDATE" && d["id"] == posted.ID
		})
		if got := up["d"].(map[string]any)["content"]; got != "🎬 c (2 s): (clip deleted)" {
			t.Fatalf("updated announcement: %q", got)
		}
	})
}

// TestBoundStageChannelRecordings: a stage channel an instance admin bound
// to the default stage broadcasts (and records) on the default stage, so
// the recordings routes naming the channel answer for the default stage:
// its recordings and clips for the channel's viewers, its settings for the
// instance admin only (a channel manager does not manage the default
// stage). Someone who may not see the channel still gets the unknown id's
// answer.
func TestBoundStageChannelRecordings(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, cfg config.Config) {
		a, _ := start(t, cfg, nil)
		base := a.HTTP.URL()
		admin, ann, eve := adminLogin(t, base), register(t, base, "ann"), register(t, base, "eve")
		_, chID := privateBoundStageChannel(t, base, admin, ann)
		def := a.Live.DefaultStageID()
		clip := seedClip(t, a, cfg, def, ann.User.ID)

		var recs []struct{ ID, StageID string }
		if code := call(t, "GET", base+"/api/recordings?stage="+chID, ann.AccessToken, nil, &recs); code != 200 || len(recs) != 1 ||
			recs[0].ID != clip.RecordingID || recs[0].StageID != def {
			t.Fatalf("recordings of the bound channel: %d %+v", code, recs)
		}
		var clips []struct{ ID string }
		if code := call(t, "GET", base+"/api/clips?stage="+chID, ann.AccessToken, nil, &clips); code != 200 || len(clips) != 1 || clips[0].ID != clip.ID {
			t.Fatalf("clips of the bound channel: %d %+v", code, clips)
		}
		var set struct{ StageID string }
		if code := call(t, "GET", base+"/api/recording-settings/"+chID, admin.AccessToken, nil, &set); code != 200 || set.StageID != def {
			t.Fatalf("settings of the bound channel: %d %+v", code, set)
		}
		on := true
		if code := call(t, "PUT", base+"/api/recording-settings/"+chID, admin.AccessToken, map[string]any{"enabled": on}, &set); code != 200 || set.StageID != def {
			t.Fatalf("put settings of the bound channel: %d %+v", code, set)
		}
		var defSet struct{ Enabled *bool }
		if code := call(t, "GET", base+"/api/recording-settings/default", admin.AccessToken, nil, &defSet); code != 200 || defSet.Enabled == nil || !*defSet.Enabled {
			t.Fatalf("the default stage's settings: %d %+v", code, defSet)
		}
		// The channel's viewer does not manage the default stage.
		if code := call(t, "GET", base+"/api/recording-settings/"+chID, ann.AccessToken, nil, nil); code != 403 {
			t.Fatalf("settings by a viewer: %d", code)
		}
		// Whoever may not see the channel: as an unknown id.
		for _, p := range []string{"/api/recordings?stage=", "/api/clips?stage=", "/api/recording-settings/"} {
			for _, tok := range []string{"", eve.AccessToken} {
				rc := call(t, "GET", base+p+chID, tok, nil, nil)
				uc := call(t, "GET", base+p+identity.NewID(), tok, nil, nil)
				if rc != uc || rc < 400 || rc >= 500 {
					t.Fatalf("%s signed in %v: bound channel %d, unknown %d", p, tok != "", rc, uc)
				}
			}
		}
	})
}
