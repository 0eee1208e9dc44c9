package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/watch"
)

type nopPub struct{}

func (nopPub) Publish(context.Context, string, []byte) error { return nil }

type oneVideo struct{}

func (oneVideo) Info(_ context.Context, s, id string) (watch.Video, error) {
	return watch.Video{Service: s, ID: id, Title: id, Length: 30}, nil
}
func (oneVideo) ResolveURL(context.Context, string) ([]watch.Video, error) { return nil, nil }

// nopSub is a bus that delivers nothing: the nodes in these tests never
// call each other, they only share the store.
type nopSub struct{}

func (nopSub) Subscribe(string, func(string, []byte)) (func() error, error) {
	return func() error { return nil }, nil
}

// testClock is a settable clock the nodes share.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newWatch is a watch service with cfg over the room store st, publishing
// to pub, every video resolving (oneVideo).
func newWatch(t testing.TB, cfg watch.Config, st watch.Store, pub watch.Publisher) *watch.Service {
	t.Helper()
	svc, err := watch.New(cfg, st, pub, oneVideo{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// newWatchNode is newWatch over db's room store, run as cluster node id
// on a bus that delivers nothing (nopSub): the nodes share only the store.
func newWatchNode(t testing.TB, cfg watch.Config, db *store.DB, pub watch.Publisher, id string) *watch.Service {
	t.Helper()
	svc := newWatch(t, cfg, db.Watch(), pub)
	if err := svc.EnableCluster(id, nopSub{}, db.Watch()); err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestWatchStoreContract runs the room store and a restart of the watch
// service (queue, votes, settings and grants survive) on every engine.
func TestWatchStoreContract(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			st := db.Watch()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			rec := &watch.Record{Name: "MyRoom", Title: "t", Visibility: watch.Public, QueueMode: watch.QueueManual,
				Settings: json.RawMessage(`{}`), State: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
			if err := st.CreateRoom(ctx, rec); err != nil {
				t.Fatal(err)
			}
			dup := *rec
			dup.Name = "myroom"
			if err := st.CreateRoom(ctx, &dup); !errors.Is(err, fault.Conflict) {
				t.Fatalf("case-folded duplicate: %v", err)
			}
			got, err := st.RoomByName(ctx, "MYROOM")
			if err != nil || got.Name != "MyRoom" || !got.CreatedAt.Equal(now) || got.OwnerID != "" {
				t.Fatalf("by name: %+v %v", got, err)
			}
			if _, err := st.RoomByName(ctx, "x' OR 1=1--"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("missing: %v", err)
			}
			tmp := *rec
			tmp.Name, tmp.IsTemporary, tmp.UpdatedAt = "old-temp", true, now.Add(-3*time.Hour)
			if err := st.CreateRoom(ctx, &tmp); err != nil {
				t.Fatal(err)
			}
			if n, err := st.DeleteTemporaryRoomsBefore(ctx, now.Add(-2*time.Hour)); err != nil || n != 1 {
				t.Fatalf("sweep: %d %v", n, err)
			}
			if err := st.DeleteRoom(ctx, "myroom", 0); err != nil {
				t.Fatal(err)
			}
			if err := st.DeleteRoom(ctx, "myroom", 0); !errors.Is(err, fault.NotFound) {
				t.Fatalf("delete twice: %v", err)
			}

			// A permanent room through the service, across a restart.
			owner := newAccount(t, db, "roomowner")
			svc := newWatch(t, watch.Config{}, st, nopPub{})
			r, err := svc.Create(ctx, watch.CreateInput{Name: "persist", OwnerID: owner})
			if err != nil {
				t.Fatal(err)
			}
			a := watch.Actor{AccountID: owner, Name: "a", LoggedIn: true}
			if err := r.Join(a, "c1"); err != nil {
				t.Fatal(err)
			}
			b, yes := true, true
			vote, desc := watch.QueueVote, "d"
			for _, req := range []watch.Request{
				{Type: watch.ReqApplySettings, Settings: &watch.Settings{QueueMode: &vote, Description: &desc, Grants: map[watch.Role]watch.Permission{watch.RoleUnregistered: 255}}},
				{Type: watch.ReqAdd, Videos: []watch.VideoRef{{Service: "direct", ID: "1"}, {Service: "direct", ID: "2"}, {Service: "direct", ID: "3"}}},
				{Type: watch.ReqVote, Video: &watch.VideoRef{Service: "direct", ID: "3"}, Add: &yes},
				{Type: watch.ReqPlayback, State: &b},
			} {
				if err := svc.Handle(ctx, r, a, "c1", req); err != nil {
					t.Fatal(err)
				}
			}
			svc.Shutdown()
			svc2, _ := watch.New(watch.Config{}, st, nopPub{}, oneVideo{}, nil)
			r2, err := svc2.Get(ctx, "persist")
			if err != nil {
				t.Fatal(err)
			}
			s := r2.Snapshot()
			if s.QueueMode != watch.QueueVote || s.Description != "d" || s.Current == nil || s.Current.ID != "1" ||
				len(s.Queue) != 2 || s.Queue[0].ID != "3" || s.Grants.Mask(0) != 255 || s.OwnerID != owner {
				t.Fatalf("after restart: %+v", s)
			}
			full := r2.FullSync()
			if vc := full.VoteCounts; len(vc) != 1 || vc[0] != (watch.VoteCount{Video: "direct3", Count: 1}) || !full.Playing {
				t.Fatalf("votes/playing after restart: %+v %v", vc, full.Playing)
			}
		})
	}
}

// TestWatchLeaseNodes: the nodes running rooms are those holding a lease
// that has not expired.
func TestWatchLeaseNodes(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).Watch()
			ctx := context.Background()
			now := time.Now()
			for _, l := range []struct {
				room, node string
				until      time.Time
			}{
				{"a", "n1", now.Add(10 * time.Second)},
				{"b", "n1", now.Add(10 * time.Second)},
				{"c", "n2", now.Add(10 * time.Second)},
				{"d", "dead", now.Add(-time.Second)},
			} {
				if _, err := st.ClaimRoomLease(ctx, l.room, l.node, now.Add(-time.Minute), l.until); err != nil {
					t.Fatal(err)
				}
			}
			nodes, err := st.LeaseNodes(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(nodes) != 2 || nodes[0] != "n1" || nodes[1] != "n2" {
				t.Fatalf("LeaseNodes = %v, want [n1 n2]", nodes)
			}
		})
	}
}
