package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestLiveStoreContract runs the live store contract on every engine.
func TestLiveStoreContract(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).Live()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			if _, err := st.DefaultStage(ctx); !errors.Is(err, fault.NotFound) {
				t.Fatalf("no default stage yet: %v", err)
			}
			def := &live.Stage{ID: identity.NewID(), Name: "Default", Default: true, VideoCodec: "libx264", LatencyLevel: 2,
				Variants: live.DefaultVariants(), CreatedAt: now, UpdatedAt: now}
			if err := st.CreateStage(ctx, def, []live.StreamKey{{Key: "abc123", Comment: "Default stream key"}}); err != nil {
				t.Fatal(err)
			}
			second := &live.Stage{ID: identity.NewID(), Name: "Other", Default: true, CreatedAt: now, UpdatedAt: now}
			if err := st.CreateStage(ctx, second, nil); !errors.Is(err, fault.Conflict) {
				t.Fatalf("two default stages: %v", err)
			}
			second.Default = false
			if err := st.CreateStage(ctx, second, []live.StreamKey{{Key: "abc123"}}); !errors.Is(err, fault.Conflict) {
				t.Fatalf("key shared by two stages: %v", err)
			}
			if _, err := st.Stage(ctx, second.ID); !errors.Is(err, fault.NotFound) {
				t.Fatalf("failed create left a stage: %v", err)
			}
			if err := st.CreateStage(ctx, second, []live.StreamKey{{Key: "other"}}); err != nil {
				t.Fatal(err)
			}
			got, err := st.DefaultStage(ctx)
			if err != nil || got.ID != def.ID || len(got.Variants) != 1 || got.Variants[0].VideoBitrate != 1200 || !got.CreatedAt.Equal(now) {
				t.Fatalf("default stage: %+v %v", got, err)
			}
			if all, err := st.Stages(ctx); err != nil || len(all) != 2 || all[0].ID != def.ID || all[1].ID != second.ID {
				t.Fatalf("stages: %+v %v", all, err)
			}
			if id, holder, err := st.KeyStage(ctx, "other"); err != nil || id != second.ID || holder != "" {
				t.Fatalf("by key: %s %q %v", id, holder, err)
			}
			if _, _, err := st.KeyStage(ctx, "' OR 1=1 --"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("unknown key: %v", err)
			}
			// Held keys: one per holder and stage, replaced alone.
			ann, bob := identity.NewID(), identity.NewID()
			if _, err := st.HolderKey(ctx, second.ID, ann); !errors.Is(err, fault.NotFound) {
				t.Fatalf("no held key yet: %v", err)
			}
			for _, k := range [][2]string{{ann, "ann1"}, {bob, "bob1"}, {ann, "ann2"}} {
				if err := st.SetHolderKey(ctx, second.ID, k[0], k[1], "Stream key"); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.SetHolderKey(ctx, second.ID, bob, "ann2", ""); !errors.Is(err, fault.Conflict) {
				t.Fatalf("another holder's key: %v", err)
			}
			if k, err := st.HolderKey(ctx, second.ID, ann); err != nil || k != "ann2" {
				t.Fatalf("ann's key: %q %v", k, err)
			}
			if id, holder, err := st.KeyStage(ctx, "bob1"); err != nil || id != second.ID || holder != bob {
				t.Fatalf("bob's key (kept through ann's and the failed set): %s %q %v", id, holder, err)
			}
			if _, _, err := st.KeyStage(ctx, "ann1"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("ann's replaced key: %v", err)
			}
			if ks, _ := st.StreamKeys(ctx, second.ID); len(ks) != 3 {
				t.Fatalf("second's keys: %+v", ks)
			}
			keys := []live.StreamKey{{Key: "k2", Comment: "b"}, {Key: "k1", Comment: "a"}}
			if err := st.SetStreamKeys(ctx, def.ID, keys); err != nil {
				t.Fatal(err)
			}
			if err := st.SetStreamKeys(ctx, def.ID, []live.StreamKey{{Key: "other"}}); !errors.Is(err, fault.Conflict) {
				t.Fatalf("stealing a key: %v", err)
			}
			if got, _ := st.StreamKeys(ctx, def.ID); len(got) != 2 || got[0].Key != "k2" || got[1].Comment != "a" {
				t.Fatalf("keys (order kept, failed replace rolled back): %+v", got)
			}
			got.Title, got.LatencyLevel = "Hello", 5
			got.LastConnect = &now
			got.OverallPeak = 7
			got.Variants = []live.Variant{{VideoPassthrough: true}, {VideoBitrate: 800, ScaledHeight: 480}}
			if err := st.UpdateStage(ctx, got); err != nil {
				t.Fatal(err)
			}
			again, _ := st.Stage(ctx, def.ID)
			if again.Title != "Hello" || again.LatencyLevel != 5 || !again.LastConnect.Equal(now) || again.LastDisconnect != nil ||
				again.OverallPeak != 7 || len(again.Variants) != 2 || again.Variants[1].ScaledHeight != 480 {
				t.Fatalf("update lost: %+v", again)
			}
			if err := st.UpdateStage(ctx, &live.Stage{ID: "missing"}); !errors.Is(err, fault.NotFound) {
				t.Fatalf("update missing: %v", err)
			}
			if _, err := st.Setting(ctx, "video"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("unset setting: %v", err)
			}
			for _, v := range []string{`{"a":1}`, `{"a":2}`} {
				if err := st.SetSetting(ctx, "video", v); err != nil {
					t.Fatal(err)
				}
			}
			if v, _ := st.Setting(ctx, "video"); v != `{"a":2}` {
				t.Fatalf("setting %q", v)
			}
			bid := identity.NewID()
			if err := st.StartBroadcast(ctx, bid, def.ID, now, "{}"); err != nil {
				t.Fatal(err)
			}
			if err := st.EndBroadcast(ctx, bid, now.Add(time.Minute), 3); err != nil {
				t.Fatal(err)
			}
			if err := st.EndBroadcast(ctx, "nope", now, 0); !errors.Is(err, fault.NotFound) {
				t.Fatalf("end missing: %v", err)
			}
			for i := 0; i < 3; i++ {
				if err := st.AddViewerSample(ctx, def.ID, now.Add(time.Duration(i)*time.Minute), i*2); err != nil {
					t.Fatal(err)
				}
			}
			_ = st.AddViewerSample(ctx, def.ID, now, 9) // same instant: replaced
			ss, err := st.ViewerSamples(ctx, def.ID, now)
			if err != nil || len(ss) != 3 || ss[0].Value != 9 || ss[2].Value != 4 || !ss[1].Time.Equal(now.Add(time.Minute)) {
				t.Fatalf("samples: %+v %v", ss, err)
			}
			if ss, _ := st.ViewerSamples(ctx, def.ID, now.Add(90*time.Second)); len(ss) != 1 {
				t.Fatalf("window: %+v", ss)
			}
		})
	}
}
