package live_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/presence"
	"github.com/hearth-community/hearth/internal/rtmp"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestPublishRaceAcrossNodes: two publishes of one stage to two nodes at
// the same instant both pass the presence check (neither node counts the
// other's broadcast yet); the stage's publish lease lets one start and
// refuses the other as a second publisher (409 Conflict, as WHIP answers
// it), on both engines. Node A's publish is held between its presence
// check and its claim while node B's starts. Once B's broadcast ends, A
// publishes.
func TestPublishRaceAcrossNodes(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			b := bus.NewLocal()
			t.Cleanup(func() { b.Close() })
			ctx := context.Background()
			node := func(id string) *live.Service {
				tr, err := presence.New(b, presence.Config{Namespace: "live", Node: id, Batch: time.Millisecond}, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(tr.Close)
				return newService(t, db, live.Config{DefaultStreamKey: "abc123", Viewers: tr, NodeID: id})
			}
			a, other := node("node-a"), node("node-b")
			id := a.DefaultStageID()
			if err := a.SetVariants(ctx, id, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
				t.Fatal(err)
			}
			held, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			a.SetLeaseHook(func(string) {
				once.Do(func() { close(held); <-release })
			})
			type result struct {
				s   rtmp.Stream
				err error
			}
			first := make(chan result, 1)
			go func() {
				s, err := a.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "abc123", RemoteAddr: "127.0.0.1:1"})
				first <- result{s, err}
			}()
			<-held // A passed its presence check: nothing is live anywhere
			pubB, err := other.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "abc123", RemoteAddr: "127.0.0.1:2"})
			if err != nil {
				close(release)
				t.Fatalf("node B's publish: %v", err)
			}
			close(release)
			r := <-first
			if r.err == nil {
				r.s.Close(nil)
				pubB.Close(nil)
				t.Fatal("two publishers of one stage started on two nodes at once")
			}
			if fault.KindOf(r.err) != fault.Conflict {
				t.Errorf("the refused publish: %v (%v), want Conflict like a second publisher", r.err, fault.KindOf(r.err))
			}
			if !a.WaitOffline(id, hangGuard) {
				t.Fatal("the refused publish left the stage reserved on node A")
			}
			pubB.Close(nil)
			if !other.WaitOffline(id, hangGuard) {
				t.Fatal("node B's broadcast did not end")
			}
			// B's broadcast released the lease: A may publish. (A's own
			// presence check may still count B's broadcast for a batch.)
			deadline := time.Now().Add(hangGuard)
			for {
				p, err := a.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "abc123", RemoteAddr: "127.0.0.1:3"})
				if err == nil {
					p.Close(nil)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("publish after node B's broadcast ended: %v", err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if !a.WaitOffline(id, hangGuard) {
				t.Fatal("node A's broadcast did not end")
			}
		})
	}
}

// TestPublishLeaseTakenOverAfterExpiry: a node that dies while publishing
// (kill -9: no release, no renewal) holds the stage until its publish
// lease lapses; after that another node's publish takes the stage. Should
// the first node come back still running it (cut off from the database,
// not dead), its renewal finds the lease another node's and drops its own
// publisher, so the stage keeps one. The node's own id takes its lease
// back at once (a restart after a crash).
func TestPublishLeaseTakenOverAfterExpiry(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			var mu sync.Mutex
			now := time.Now()
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
			a := newService(t, db, live.Config{DefaultStreamKey: "abc123", NodeID: "node-a", Now: clock})
			other := newService(t, db, live.Config{NodeID: "node-b", Now: clock})
			id := a.DefaultStageID()
			if err := a.SetVariants(ctx, id, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
				t.Fatal(err)
			}
			dropped := make(chan struct{})
			var once sync.Once
			pubA, err := a.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "abc123", RemoteAddr: "127.0.0.1:1",
				Disconnect: func() { once.Do(func() { close(dropped) }) }})
			if err != nil {
				t.Fatal(err)
			}
			closeA := sync.OnceFunc(func() { pubA.Close(nil) }) // a second Close panics
			t.Cleanup(closeA)
			publishB := func() (rtmp.Stream, error) {
				return other.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "abc123", RemoteAddr: "127.0.0.1:2"})
			}
			if p, err := publishB(); !errors.Is(err, fault.Conflict) {
				if p != nil {
					p.Close(nil)
				}
				t.Fatalf("node B while node A's lease runs: %v, want Conflict", err)
			}
			// Renewed, the lease outlives its first term.
			advance(10 * time.Second)
			a.RenewLeases(ctx)
			advance(10 * time.Second)
			if p, err := publishB(); !errors.Is(err, fault.Conflict) {
				if p != nil {
					p.Close(nil)
				}
				t.Fatalf("node B while node A renews its lease: %v, want Conflict", err)
			}
			// Node A stops renewing (it died): past the lease, B takes over.
			advance(16 * time.Second)
			pubB, err := publishB()
			if err != nil {
				t.Fatalf("node B after node A's lease lapsed: %v", err)
			}
			select {
			case <-dropped:
				t.Fatal("node A's publisher dropped before it renewed")
			default:
			}
			a.RenewLeases(ctx)
			select {
			case <-dropped:
			default:
				t.Fatal("node A kept publishing a stage whose lease is node B's")
			}
			closeA()
			if !a.WaitOffline(id, hangGuard) {
				t.Fatal("node A's broadcast did not end")
			}
			// A's ended broadcast released nothing of B's.
			if p, err := a.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "abc123", RemoteAddr: "127.0.0.1:3"}); !errors.Is(err, fault.Conflict) {
				if p != nil {
					p.Close(nil)
				}
				t.Fatalf("node A while node B's lease runs: %v, want Conflict", err)
			}
			// Node B dies (its broadcast stays, its lease is not renewed) and
			// restarts under its node id: its own lease is taken back at once.
			restarted := newService(t, db, live.Config{NodeID: "node-b", Now: clock})
			pubB2, err := restarted.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "abc123", RemoteAddr: "127.0.0.1:4"})
			if err != nil {
				t.Fatalf("node B restarted: %v", err)
			}
			pubB2.Close(nil)
			pubB.Close(nil)
			restarted.WaitOffline(id, hangGuard)
			other.WaitOffline(id, hangGuard)
		})
	}
}

// TestBroadcastLostWithItsNodeIsClosed: a node killed while it ran a
// broadcast never ends it. The other nodes, once presence has forgotten
// that node and its publish lease has lapsed, write the stage's disconnect
// time and announce the stop, once between them; before, they reported the
// stage offline with no lastDisconnectTime and no STREAM_STOPPED for as
// long as the dead node stayed away. Nothing is done while the lease still
// runs (the ingest node may still be ending the broadcast itself).
func TestBroadcastLostWithItsNodeIsClosed(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			clk := &clock{t: time.Now()}
			a := newService(t, db, live.Config{DefaultStreamKey: "abc123", NodeID: "node-a", Now: clk.now})
			id := a.DefaultStageID()
			if err := a.SetVariants(ctx, id, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
				t.Fatal(err)
			}
			pubA, err := a.Publish(ctx, rtmp.PublishRequest{App: "live", Name: "abc123", RemoteAddr: "127.0.0.1:1"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { pubA.Close(nil); a.WaitOffline(id, hangGuard) })
			var stopped atomic.Int32
			survivors := make([]*live.Service, 2)
			counters := make([]*clusterCounter, 2)
			for i, node := range []string{"node-b", "node-c"} {
				counters[i] = &clusterCounter{counts: map[string]int{}, others: map[string][]string{"broadcast." + id: {"node-a"}}}
				survivors[i] = newService(t, db, live.Config{NodeID: node, Viewers: counters[i], Now: clk.now})
				survivors[i].Observe(func(e live.Event) {
					if e.Kind == live.EventStopped {
						stopped.Add(1)
					}
				})
			}
			closeAll := func() {
				for _, s := range survivors {
					s.CloseAbandoned(ctx)
				}
			}
			closeAll() // live on node A: noted
			// Node A dies: presence forgets it first, its lease still runs.
			for _, c := range counters {
				c.mu.Lock()
				delete(c.others, "broadcast."+id)
				c.mu.Unlock()
			}
			closeAll()
			if n := stopped.Load(); n != 0 {
				t.Fatalf("%d stopped events while node A's lease runs", n)
			}
			clk.add(16 * time.Second)
			closeAll()
			closeAll()
			if n := stopped.Load(); n != 1 {
				t.Fatalf("%d stopped events for the lost broadcast, want 1", n)
			}
			for i, s := range survivors {
				st, err := s.Status(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if st.Online || st.LastDisconnect == nil || st.LastConnect == nil || st.LastDisconnect.Before(*st.LastConnect) {
					t.Errorf("survivor %d: online %v, connect %v, disconnect %v; want offline with a disconnect after the connect",
						i, st.Online, st.LastConnect, st.LastDisconnect)
				}
			}
		})
	}
}
