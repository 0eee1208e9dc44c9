package recording_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestRetention: per stage, the oldest unpinned finished recordings go
// first until the stage is within its age, count and byte limits; pinned
// and open recordings stay; files go with their row; other stages are
// untouched.
func TestRetention(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	type rec struct {
		name   string
		ageH   int
		size   int64
		pinned bool
		open   bool
	}
	// Newest last; each 1 h apart unless told.
	five := []rec{{"a", 50, 100, false, false}, {"b", 40, 100, true, false}, {"c", 30, 100, false, false},
		{"d", 20, 100, false, false}, {"e", 10, 100, false, false}, {"f", 1, 100, false, true}}
	cases := []struct {
		name     string
		settings recording.StageSettings
		want     []string
	}{
		{"no limits", recording.StageSettings{}, nil},
		{"by count", recording.StageSettings{MaxCount: 2}, []string{"a", "c"}},
		{"by age", recording.StageSettings{MaxAge: 25 * time.Hour}, []string{"a", "c"}},
		{"by bytes", recording.StageSettings{MaxBytes: 150}, []string{"a", "c", "d"}},
		{"count keeps pinned", recording.StageSettings{MaxCount: 1}, []string{"a", "c", "d"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := storetest.OpenSQLite(t)
			dir := t.TempDir()
			svc, err := recording.New(recording.Config{Dir: dir, Now: func() time.Time { return now }}, db.Recordings(), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			ids := map[string]string{}
			for i, stage := range []string{"s1", "s2"} {
				for _, x := range five {
					start := now.Add(-time.Duration(x.ageH) * time.Hour)
					r := &recording.Recording{ID: "0190c4e0-0000-7000-8000-00000000" + string(rune('a'+i)) + string(x.name[0]) + "00",
						StageID: stage, StartedAt: start, Size: x.size, Pinned: x.pinned}
					r.ID = r.ID[:36]
					if !x.open {
						end := start.Add(30 * time.Minute)
						r.EndedAt = &end
					}
					if err := db.Recordings().CreateRecording(ctx, r); err != nil {
						t.Fatal(err)
					}
					if err := os.MkdirAll(filepath.Join(dir, r.ID), 0o750); err != nil {
						t.Fatal(err)
					}
					if stage == "s1" {
						ids[r.ID] = x.name
					}
				}
			}
			set := tc.settings
			set.StageID = "s1"
			if err := svc.SetSettings(ctx, &set); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, id := range svc.ApplyRetention(ctx) {
				got = append(got, ids[id])
				if _, err := os.Stat(filepath.Join(dir, id)); !os.IsNotExist(err) {
					t.Errorf("files of %s left", ids[id])
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("deleted %v, want %v", got, tc.want)
			}
			if rest, _ := svc.List(ctx, "s2"); len(rest) != len(five) {
				t.Fatalf("another stage lost recordings: %d left", len(rest))
			}
		})
	}
}

// TestRecoverOtherNodes: a node closes another node's open recording only
// once its lease expired and only when the files are on a disk it shares;
// a live lease, or files elsewhere, leave it open for its own node.
func TestRecoverOtherNodes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		lease      time.Time
		localFiles bool
		closed     bool
	}{
		{"lease alive", now.Add(time.Minute), true, false},
		{"lease expired, shared disk", now.Add(-time.Minute), true, true},
		{"lease expired, files elsewhere", now.Add(-time.Minute), false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := storetest.OpenSQLite(t)
			dir := t.TempDir()
			svc, err := recording.New(recording.Config{Dir: dir, NodeID: "node-a", Now: func() time.Time { return now }}, db.Recordings(), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			r := &recording.Recording{ID: "0190c4e0-0000-7000-8000-000000000001", StageID: "s", StartedAt: now.Add(-time.Hour),
				NodeID: "node-b", LeaseUntil: tc.lease}
			if err := db.Recordings().CreateRecording(ctx, r); err != nil {
				t.Fatal(err)
			}
			if tc.localFiles {
				if err := os.MkdirAll(filepath.Join(dir, r.ID), 0o750); err != nil {
					t.Fatal(err)
				}
			}
			svc.Recover(ctx)
			got, err := svc.Get(ctx, r.ID)
			if err != nil || (got.EndedAt != nil) != tc.closed {
				t.Fatalf("closed=%v, want %v (%v)", got.EndedAt != nil, tc.closed, err)
			}
		})
	}
}

// TestDiskFullNotice: a broadcast that starts while the disk has less than
// the minimum free space is not recorded (the live stream is not the
// recorder's to stop), and the usage the admin's notice reads says the disk
// is full and when recording was last refused.
func TestDiskFullNotice(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	dir := t.TempDir()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rs, err := recording.New(recording.Config{Dir: dir, DefaultEnabled: true, Now: func() time.Time { return now }},
		db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if u, err := rs.Usage(ctx); err != nil || u.DiskFull || u.NearFull || u.LastFull != nil {
		t.Fatalf("no minimum: %+v %v", u, err)
	}
	full, err := recording.New(recording.Config{Dir: dir, DefaultEnabled: true, MinFreeBytes: math.MaxInt64 / 4,
		Now: func() time.Time { return now }}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := full.Usage(ctx); err != nil || u.FreeBytes < 0 {
		t.Skipf("free space unknown here: %+v %v", u, err)
	}
	if sink := full.BroadcastStarted("stage-1", "b1", "title", now); sink != nil {
		t.Fatal("recorded on a full disk")
	}
	u, err := full.Usage(ctx)
	if err != nil || !u.DiskFull || !u.NearFull || u.LastFull == nil || !u.LastFull.Equal(now) {
		t.Fatalf("full disk: %+v %v", u, err)
	}
}
