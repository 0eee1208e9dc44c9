package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestVoiceLeasesContract: a voice room's lease is one node's until it
// lapses or is released, on every engine.
func TestVoiceLeasesContract(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).VoiceLeases()
			ctx := context.Background()
			now := time.Now()
			claim := func(node string, at time.Time) string {
				t.Helper()
				owner, err := st.ClaimVoiceLease(ctx, "ch1", node, at, at.Add(3*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				return owner
			}
			if o := claim("a", now); o != "a" {
				t.Fatalf("free lease: %q", o)
			}
			if o := claim("b", now.Add(time.Second)); o != "a" {
				t.Fatalf("live lease taken by b: %q", o)
			}
			if o := claim("a", now.Add(2*time.Second)); o != "a" {
				t.Fatalf("renewal: %q", o)
			}
			if o, err := st.VoiceLeaseOwner(ctx, "ch1", now.Add(4*time.Second)); err != nil || o != "a" {
				t.Fatalf("owner after renewal: %q %v", o, err)
			}
			if o, err := st.VoiceLeaseOwner(ctx, "ch1", now.Add(6*time.Second)); err != nil || o != "" {
				t.Fatalf("owner after lapse: %q %v", o, err)
			}
			if o := claim("b", now.Add(6*time.Second)); o != "b" {
				t.Fatalf("lapsed lease not taken: %q", o)
			}
			if err := st.ReleaseVoiceLease(ctx, "ch1", "a"); err != nil {
				t.Fatal(err)
			}
			if o, _ := st.VoiceLeaseOwner(ctx, "ch1", now.Add(6*time.Second)); o != "b" {
				t.Fatalf("a released b's lease: %q", o)
			}
			if err := st.ReleaseVoiceLease(ctx, "ch1", "b"); err != nil {
				t.Fatal(err)
			}
			if o := claim("a", now.Add(6*time.Second)); o != "a" {
				t.Fatalf("released lease: %q", o)
			}
		})
	}
}
