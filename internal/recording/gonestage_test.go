package recording_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestSweepGoneStages: deleting a stage channel deletes its stage, after
// which every recording route answers 404 for its recordings and clips;
// they held the disk and counted in the admin's usage for good. The sweep
// (run with retention) deletes the finished recordings and the clips of
// stages that are gone, with their files, and leaves those of stages that
// exist and a recording still being made. A clip swept that was announced
// in the chat goes to Config.ClipSwept with its message, to be unposted.
func TestSweepGoneStages(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := eng.Open(t)
			b := bus.NewLocal()
			t.Cleanup(func() { b.Close() })
			lv, err := live.New(ctx, live.Config{DataDir: t.TempDir()}, db.Live(), b, nil)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var swept []string // clip and message ids ClipSwept was given
			rs, err := recording.New(recording.Config{Dir: dir, Live: lv, ClipSwept: func(_ context.Context, c *recording.Clip) {
				swept = append(swept, c.ID+" "+c.MessageID)
			}}, db.Recordings(), nil)
			if err != nil {
				t.Fatal(err)
			}
			gone, kept := identity.NewID(), identity.NewID()
			for _, id := range []string{gone, kept} {
				if _, err := lv.EnsureStage(ctx, id, "Concerts"); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now().Add(-time.Hour).UTC()
			end := start.Add(time.Minute)
			st := db.Recordings()
			mk := func(stage string, ended bool) (rec, clip string) {
				t.Helper()
				r := &recording.Recording{ID: identity.NewID(), StageID: stage, StartedAt: start}
				if err := st.CreateRecording(ctx, r); err != nil {
					t.Fatal(err)
				}
				if ended {
					r.EndedAt = &end
					if err := st.UpdateRecording(ctx, r); err != nil {
						t.Fatal(err)
					}
				}
				c := &recording.Clip{ID: identity.NewID(), StageID: stage, RecordingID: r.ID, Duration: time.Second, CreatedAt: end}
				if err := st.CreateClip(ctx, c); err != nil {
					t.Fatal(err)
				}
				for _, p := range []string{filepath.Join(dir, r.ID, "seg-00000.ts"), filepath.Join(dir, "clips", c.ID+".mp4")} {
					if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, make([]byte, 1000), 0o640); err != nil {
						t.Fatal(err)
					}
				}
				return r.ID, c.ID
			}
			goneRec, goneClip := mk(gone, true)
			openRec, _ := mk(gone, false)
			keptRec, keptClip := mk(kept, true)
			defRec, defClip := mk(lv.DefaultStageID(), true)
			// The gone stage's clip was announced in its chat: the sweep
			// hands it on (ClipSwept) with its message, to be unposted;
			// the open recording's clip had no announcement.
			announced := identity.NewID()
			if err := rs.SetClipMessage(ctx, goneClip, announced); err != nil {
				t.Fatal(err)
			}
			if err := lv.DeleteStage(ctx, gone); err != nil {
				t.Fatal(err)
			}
			recs, clips := rs.SweepGoneStages(ctx)
			if recs != 1 || clips != 2 {
				t.Fatalf("swept %d recordings and %d clips, want 1 and 2", recs, clips)
			}
			if want := goneClip + " " + announced; len(swept) != 1 || swept[0] != want {
				t.Errorf("ClipSwept was given %q, want the announced clip with its message (%q)", swept, want)
			}
			for _, id := range []string{goneRec} {
				if _, err := rs.Get(ctx, id); err == nil {
					t.Errorf("recording %s of the deleted stage is still there", id)
				}
				if _, err := os.Stat(filepath.Join(dir, id)); !os.IsNotExist(err) {
					t.Errorf("recording %s's files are still there: %v", id, err)
				}
			}
			if _, err := rs.GetClip(ctx, goneClip); err == nil {
				t.Error("the deleted stage's clip is still there")
			}
			if _, err := os.Stat(filepath.Join(dir, "clips", goneClip+".mp4")); !os.IsNotExist(err) {
				t.Errorf("the deleted stage's clip file is still there: %v", err)
			}
			for _, id := range []string{openRec, keptRec, defRec} {
				if _, err := rs.Get(ctx, id); err != nil {
					t.Errorf("recording %s: %v", id, err)
				}
			}
			for _, id := range []string{keptClip, defClip} {
				if _, err := rs.GetClip(ctx, id); err != nil {
					t.Errorf("clip %s: %v", id, err)
				}
			}
		})
	}
}
