package federation_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestActorPublished: an actor document says when the account began
// (published, which Mastodon shows as "Joined"): when federation's key was
// made here, the same from every node and after a restart, as Owncast
// publishes its server's first start. It had no published at all.
func TestActorPublished(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := context.Background()
	before := time.Now().UTC().Truncate(time.Second)
	first, err := newService(t, db, federation.Config{}).Actor(ctx, "streamer")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := first["published"].(string)
	at, err := time.Parse(time.RFC3339, pub)
	if err != nil || at.Before(before) || at.After(time.Now()) {
		t.Fatalf("published = %q (%v), want an RFC 3339 time since %v", pub, err, before)
	}
	// Another node (or this one restarted) reads the stored key.
	time.Sleep(1100 * time.Millisecond)
	again, err := newService(t, db, federation.Config{}).Actor(ctx, "streamer")
	if err != nil || again["published"] != pub {
		t.Fatalf("published on another node = %v, %v; want %q", again["published"], err, pub)
	}
}
