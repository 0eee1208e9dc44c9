package live_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/presence"
	"github.com/hearth-community/hearth/internal/rtmp"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestStatusAcrossNodes: two nodes sharing a database and a bus report the
// same viewer count (viewers pinging either node) and both report the stage
// online while it is published to one of them.
func TestStatusAcrossNodes(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	t.Cleanup(func() { b.Close() })
	ctx := context.Background()
	node := func(key string) *live.Service {
		tr, err := presence.New(b, presence.Config{Namespace: "live", Batch: time.Millisecond}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tr.Close)
		return newService(t, db, live.Config{DefaultStreamKey: key, Viewers: tr})
	}
	a, other := node("abc123"), node("ignored")
	id := a.DefaultStageID()
	if other.DefaultStageID() != id {
		t.Fatal("the nodes do not share the default stage")
	}
	if err := a.SetVariants(ctx, id, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	status := func(s *live.Service) live.Status {
		st, err := s.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(hangGuard)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	a.Touch(id, "1.1.1.1", "one")
	other.Touch(id, "2.2.2.2", "two")
	other.Touch(id, "3.3.3.3", "three")
	waitFor("both nodes count 3 viewers", func() bool { return status(a).ViewerCount == 3 && status(other).ViewerCount == 3 })

	pub, err := a.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "abc123", RemoteAddr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor("the other node to see the stream online", func() bool { return status(other).Online })
	if st := status(a); !st.Online || st.SessionPeak != 3 {
		t.Fatalf("publishing node: %+v", st)
	}
	// A second publisher, on the other node, is refused as on this one:
	// two broadcasts of one stage would each start, end and record it.
	if p2, err := other.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "abc123", RemoteAddr: "127.0.0.1:2"}); err == nil {
		p2.Close(nil)
		t.Fatal("a second publisher on another node was let in while the stage is live")
	}
	pub.Close(nil)
	if !a.WaitOffline(id, 5*time.Second) {
		t.Fatal("broadcast did not end")
	}
	waitFor("the other node to see the stream offline", func() bool { return !status(other).Online })
}
