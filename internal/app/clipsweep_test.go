package app_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/fault"
)

// TestSweptClipLeavesItsAnnouncement: the clips of a stage that is gone
// are deleted by the retention sweep (SweepGoneStages), which left their
// announcements alone, where a clip deleted through the API has its link
// taken out (TestClipMakerDeletesOwnClip). A swept clip is now unposted
// the same way: where its announcement is still there (the stage gone, its
// channel's messages not) it no longer links the clip. A stage channel
// deleted as usual takes its messages with it: the sweep then finds no
// announcement to edit, and deletes the clip all the same.
func TestSweptClipLeavesItsAnnouncement(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, cfg config.Config) {
		a, _ := start(t, cfg, nil)
		base := a.HTTP.URL()
		ctx := t.Context()
		ann := register(t, base, "ann")
		sid := newServer(t, base, ann.AccessToken)
		announce := func(channel string) (clip, message string) {
			t.Helper()
			c := seedClip(t, a, cfg, channel, ann.User.ID)
			var m struct{ ID string }
			if code := call(t, "POST", base+"/channels/"+channel+"/messages", ann.AccessToken,
				map[string]string{"content": "🎬 c (2 s): /api/clips/" + c.ID + "/file"}, &m); code != 201 {
				t.Fatalf("announce: %d", code)
			}
			if err := a.Recordings.SetClipMessage(ctx, c.ID, m.ID); err != nil {
				t.Fatal(err)
			}
			return c.ID, m.ID
		}
		var kept, deleted struct{ ID string }
		for _, ch := range []*struct{ ID string }{&kept, &deleted} {
			if code := call(t, "POST", base+"/servers/"+sid+"/channels", ann.AccessToken, map[string]string{"name": "Stage", "type": "stage"}, ch); code != 201 {
				t.Fatalf("stage channel: %d", code)
			}
		}
		keptClip, keptMsg := announce(kept.ID)
		deletedClip, deletedMsg := announce(deleted.ID)

		// The first channel's stage is gone, its messages are not.
		if err := a.Live.DeleteStage(ctx, kept.ID); err != nil {
			t.Fatal(err)
		}
		// The second channel is deleted, its stage and messages with it.
		if code := call(t, "DELETE", base+"/servers/"+sid+"/channels/"+deleted.ID, ann.AccessToken, nil, nil); code != 200 && code != 204 {
			t.Fatalf("delete the stage channel: %d", code)
		}
		poll(t, "the deleted channel's stage to go", time.Second, func() bool {
			stages, err := a.Live.Stages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range stages {
				if st.ID == deleted.ID {
					return false
				}
			}
			return true
		})
		if _, err := a.Messages.Get(ctx, deletedMsg); !errors.Is(err, fault.NotFound) {
			t.Fatalf("the deleted channel's announcement: %v, want gone with it", err)
		}

		if _, clips := a.Recordings.SweepGoneStages(ctx); clips != 2 {
			t.Fatalf("swept %d clips, want 2", clips)
		}
		for _, id := range []string{keptClip, deletedClip} {
			if _, err := a.Recordings.GetClip(ctx, id); !errors.Is(err, fault.NotFound) {
				t.Errorf("swept clip %s: %v", id, err)
			}
		}
		var m struct{ Content string }
		if code := call(t, "GET", base+"/channels/"+kept.ID+"/messages/"+keptMsg, ann.AccessToken, nil, &m); code != 200 ||
			m.Content != "🎬 c (2 s): (clip deleted)" {
			t.Fatalf("the swept clip's announcement: %d %q, want its link taken out", code, m.Content)
		}
	})
}
