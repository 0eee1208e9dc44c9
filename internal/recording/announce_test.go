package recording_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestAnnounceKeepsTheMessageFirst: a clip's announcement is known to the
// clip before it is posted, so a node killed between the two steps (here:
// the post fails after the id is kept) leaves a clip whose delete finds
// the message, or no message at all, never an announcement the clip does
// not name (before, the message was posted first and its id written after:
// a kill in between left the chat linking a deleted clip for good). A clip
// deleted while its message is posted is reported for the link to come
// out, and a clip already gone is not announced.
func TestAnnounceKeepsTheMessageFirst(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := eng.Open(t)
			rs, err := recording.New(recording.Config{Dir: t.TempDir()}, db.Recordings(), nil)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Truncate(time.Second)
			rec := &recording.Recording{ID: identity.NewID(), StageID: identity.NewID(), StartedAt: now}
			if err := db.Recordings().CreateRecording(ctx, rec); err != nil {
				t.Fatal(err)
			}
			clip := func() *recording.Clip {
				c := &recording.Clip{ID: identity.NewID(), StageID: rec.StageID, RecordingID: rec.ID, Duration: time.Second,
					CreatedAt: now}
				if err := db.Recordings().CreateClip(ctx, c); err != nil {
					t.Fatal(err)
				}
				return c
			}

			// The post dies: the clip already names the id it was given.
			c := clip()
			killed := errors.New("killed")
			var posted string
			if _, err := rs.Announce(ctx, c, func(ctx context.Context, id string) error {
				posted = id
				stored, err := rs.GetClip(ctx, c.ID)
				if err != nil || stored.MessageID != id {
					t.Errorf("at the post the clip names message %q (%v), want %q", stored.MessageID, err, id)
				}
				return killed
			}); !errors.Is(err, killed) {
				t.Fatalf("announce with a failing post: %v", err)
			}
			if msg, err := rs.DeleteClip(ctx, c.ID); err != nil || msg == "" || msg != posted {
				t.Fatalf("the delete found message %q (%v), want %q", msg, err, posted)
			}

			// Deleted while its message was posted: the caller unposts it.
			c = clip()
			unpost, err := rs.Announce(ctx, c, func(ctx context.Context, id string) error {
				msg, err := rs.DeleteClip(ctx, c.ID)
				if err != nil || msg != id {
					t.Errorf("the delete during the post found %q (%v), want %q", msg, err, id)
				}
				return nil
			})
			if err != nil || !unpost {
				t.Fatalf("announce of a clip deleted meanwhile: unpost %v, %v", unpost, err)
			}

			// Already gone: nothing is posted.
			c = clip()
			if _, err := rs.DeleteClip(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			unpost, err = rs.Announce(ctx, c, func(context.Context, string) error {
				t.Error("a deleted clip was announced")
				return nil
			})
			if err != nil || unpost {
				t.Fatalf("announce of a deleted clip: unpost %v, %v", unpost, err)
			}

			// An ordinary announcement.
			c = clip()
			if unpost, err := rs.Announce(ctx, c, func(context.Context, string) error { return nil }); err != nil || unpost {
				t.Fatalf("announce: unpost %v, %v", unpost, err)
			}
			if stored, err := rs.GetClip(ctx, c.ID); err != nil || stored.MessageID == "" || stored.MessageID != c.MessageID {
				t.Fatalf("the announced clip names %+v (%v), want %q", stored, err, c.MessageID)
			}
		})
	}
}
