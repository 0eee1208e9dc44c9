package ott_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/watch"
)

// TestTwoNodes runs two nodes on one database and one bus: a room runs on
// the node that loaded it, sockets on the other node take part through the
// bus, and when the first node stops the room moves with its state.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	buses := map[string]string{"local": ""}
	if u := os.Getenv("HEARTH_TEST_NATS_URL"); u != "" {
		buses["nats"] = u
	}
	for name, url := range buses {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n1 := newHarness(t, opts{nats: url})
			n2 := newHarness(t, opts{peer: n1, nats: url})
			twoNodes(t, n1, n2)
		})
	}
}

func twoNodes(t *testing.T, n1, n2 *harness) {
	ta, tb := n1.grant(), n2.grant()
	n1.createRoom(ta, "shared", map[string]any{"isTemporary": false})

	a, _ := n1.join("shared", ta)
	b := n2.dial("shared")
	b.send(map[string]any{"action": "auth", "token": tb})
	full := b.until("sync", has("queue"))
	if full["name"] != "shared" {
		t.Fatalf("full sync through node 2: %v", full)
	}
	bID := b.until("you")["info"].(map[string]any)["id"].(string)
	a.until("user", func(m map[string]any) bool {
		v, ok := m["update"].(map[string]any)["value"].(map[string]any)
		return ok && v["id"] == bID
	})
	// REST on node 2 answers from node 1's room.
	if r := n2.do("GET", "/api/room/shared", tb, nil); r.status != 200 || len(r.body["users"].([]any)) != 2 {
		t.Fatalf("GET via node 2: %d %s", r.status, r.raw)
	}
	// A request on node 2 changes the room on node 1; everyone sees it.
	if r := n2.do("POST", "/api/room/shared/queue", tb, map[string]any{"service": "direct", "id": n2.fixture("clip1.mp4")}); r.status != 200 {
		t.Fatalf("queue via node 2: %s", r.raw)
	}
	b.req(watch.ReqChat, map[string]any{"text": "from node 2"})
	if c := a.until("chat"); c["text"] != "from node 2" {
		t.Fatalf("chat: %v", c)
	}
	a.req(watch.ReqSeek, map[string]any{"value": 1.5})
	b.until("sync", has("playbackPosition"), func(m map[string]any) bool { return m["playbackPosition"] == 1.5 })
	if r := n2.do("POST", "/api/room/shared/vote", tb, map[string]any{"service": "direct", "id": "x"}); r.errName() == "ClientNotFoundInRoomException" {
		t.Fatalf("node 2 must find its socket in node 1's room: %s", r.raw)
	}

	// Node 1 stops: its rooms are saved and every socket is told to come back.
	n1.watch.Shutdown()
	if code := b.closeCode(); code != 1001 {
		t.Fatalf("node 2 socket: close %d, want 1001", code)
	}
	if code := a.closeCode(); code != 1001 {
		t.Fatalf("node 1 socket: close %d, want 1001", code)
	}
	// A client told to reconnect (node 2's stand-in for node 1's room is
	// retired when node 1 goes) dials again, as OTT's does.
	s := n2.joinUntil("shared", tb, "sync", has("currentSource"))
	cur, _ := s["currentSource"].(map[string]any)
	if cur == nil || cur["id"] != n2.fixture("clip1.mp4") || s["playbackPosition"].(float64) < 1.5 {
		t.Fatalf("room moved without its state: %v", s)
	}
}

// clusters are the two-node setups a cluster test runs on: one SQLite
// database and the in-process bus, and (when configured) one PostgreSQL
// database with each node on its own NATS connection.
func clusters(t *testing.T) map[string]func(t *testing.T) (*harness, *harness) {
	out := map[string]func(t *testing.T) (*harness, *harness){}
	for name, build := range clustersOf(t, 2, opts{}) {
		out[name] = func(t *testing.T) (*harness, *harness) {
			ns := build(t)
			return ns[0], ns[1]
		}
	}
	return out
}

// clustersOf are the setups of clusters with n nodes, each built with o.
func clustersOf(t *testing.T, n int, o opts) map[string]func(t *testing.T) []*harness {
	build := func(t *testing.T, o opts) []*harness {
		first := newHarness(t, o)
		ns := []*harness{first}
		for len(ns) < n {
			p := o
			p.peer = first
			ns = append(ns, newHarness(t, p))
		}
		return ns
	}
	out := map[string]func(t *testing.T) []*harness{
		"sqlite-local": func(t *testing.T) []*harness { return build(t, o) },
	}
	pg, nats := storetest.PostgresURL(), os.Getenv("HEARTH_TEST_NATS_URL")
	if pg != "" && nats != "" {
		out["postgres-nats"] = func(t *testing.T) []*harness {
			p := o
			p.db, p.nats = storetest.OpenPostgres, nats
			return build(t, p)
		}
	}
	return out
}

// TestRoomListAcrossNodes: GET /api/room/list on either node lists the
// rooms running on both, with every node's sockets counted, OTT's
// visibility rule and its order (users descending, then name).
func TestRoomListAcrossNodes(t *testing.T) {
	t.Parallel()
	for name, build := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n1, n2 := build(t)
			t1, t2, t3 := n1.grant(), n2.grant(), n1.grant()
			n1.createRoom(t1, "alpha", nil)
			n1.createRoom(t1, "delta", map[string]any{"visibility": "private"})
			n2.createRoom(t2, "beta", nil)
			n2.createRoom(t2, "gamma", map[string]any{"visibility": "unlisted"})
			// beta (runs on node 2) gets a socket on each node; alpha (node 1)
			// one through node 2.
			n1.join("beta", t1)
			n2.join("beta", t2)
			n2.join("alpha", t3)

			type item struct {
				Name, Visibility string
				Users            int
				IsTemporary      bool
			}
			list := func(h *harness, hdr ...string) []item {
				t.Helper()
				r := h.do("GET", "/api/room/list", t1, nil, hdr...)
				if r.status != 200 {
					t.Fatalf("list: %d %s", r.status, r.raw)
				}
				var out []item
				if err := json.Unmarshal(r.raw, &out); err != nil {
					t.Fatalf("list body %s: %v", r.raw, err)
				}
				return out
			}
			public := []item{{"beta", "public", 2, true}, {"alpha", "public", 1, true}}
			all := []item{{"beta", "public", 2, true}, {"alpha", "public", 1, true}, {"delta", "private", 0, true}, {"gamma", "unlisted", 0, true}}
			for i, h := range []*harness{n1, n2} {
				if got := list(h); !slices.Equal(got, public) {
					t.Errorf("node %d list = %+v, want %+v", i+1, got, public)
				}
				if got := list(h, "apikey", testAPIKey); !slices.Equal(got, all) {
					t.Errorf("node %d admin list = %+v, want %+v", i+1, got, all)
				}
			}
		})
	}
}

// TestRenameAcrossNodes: a rename sent to a node that does not run the
// room still reaches the room (OTT re-syncs the user in every room its
// token is in).
func TestRenameAcrossNodes(t *testing.T) {
	t.Parallel()
	for name, build := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n1, n2 := build(t)
			ta, tb := n1.grant(), n2.grant()
			n1.createRoom(ta, "renames", nil)
			obs, _ := n1.join("renames", ta)
			_, bID := n1.join("renames", tb) // tb's socket is on node 1 with the room
			if r := n2.do("POST", "/api/user", tb, map[string]any{"username": "renamed_on_two"}); r.status != 200 {
				t.Fatalf("rename on node 2: %d %s", r.status, r.raw)
			}
			obs.until("user", func(m map[string]any) bool {
				v, ok := m["update"].(map[string]any)["value"].(map[string]any)
				return ok && v["id"] == bID && v["name"] == "renamed_on_two"
			})
		})
	}
}

// TestRequestWhileRoomNodeDies: a room's node killed (kill -9) leaves its
// lease to run out. A request for the room on another node in that time
// found no answer and, before, failed with 500 until the lease lapsed;
// now it waits for the lapse, takes the room and succeeds, with the
// room's saved queue. The dead node is a lease written for a node that
// does not exist, lapsing within seconds.
func TestRequestWhileRoomNodeDies(t *testing.T) {
	t.Parallel()
	for name, nodes := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n1, n2 := nodes(t)
			ta, tb := n1.grant(), n2.grant()
			n1.createRoom(ta, "crashed", map[string]any{"isTemporary": false})
			for _, clip := range []string{"clip1.mp4", "clip2.mp4"} { // the first plays, the second is queued
				if r := n1.do("POST", "/api/room/crashed/queue", ta, map[string]any{"service": "direct", "id": n1.fixture(clip)}); r.status != 200 {
					t.Fatalf("queue on node 1: %s", r.raw)
				}
			}
			n1.watch.Shutdown() // saves the room and hands back its lease
			now := time.Now()
			if owner, err := n1.db.Watch().ClaimRoomLease(context.Background(), "crashed", "dead-node", now, now.Add(3*time.Second)); err != nil || owner != "dead-node" {
				t.Fatalf("lease: %q %v", owner, err)
			}
			if r := n2.do("POST", "/api/room/crashed/queue", tb, map[string]any{"service": "direct", "id": n2.fixture("clip3.mp4")}); r.status != 200 {
				t.Fatalf("queue on node 2 while the room's node is dead: %d %s", r.status, r.raw)
			}
			r := n2.do("GET", "/api/room/crashed", tb, nil)
			q, _ := r.body["queue"].([]any)
			if r.status != 200 || len(q) != 2 {
				t.Fatalf("room after the move: %d %s", r.status, r.raw)
			}
		})
	}
}

// TestRoomMovedRetiresTheProxy: a node's proxy for a room names a node
// that no longer runs it (it restarted, and a third node took the room)
// before the lease check notices. The node's sockets in the room were
// attached to nothing once the proxy was dropped, and never told: now,
// whether a call through the old proxy hears "moved" or a new request
// finds the lease on another node, they are told to reconnect (1001), as
// when the lease lapses, and the request runs where the room runs now.
// The lease check is kept from running (a long tick); the sockets are a
// listener on the node's topic of the room, which each socket listens on.
func TestRoomMovedRetiresTheProxy(t *testing.T) {
	t.Parallel()
	for name, build := range clustersOf(t, 3, opts{tick: time.Hour}) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := build(t)
			n1, n2, n3 := ns[0], ns[1], ns[2]
			ctx := context.Background()
			ta, tb := n1.grant(), n2.grant()
			for _, room := range []string{"drift", "drift2"} {
				n1.createRoom(ta, room, map[string]any{"isTemporary": false})
			}
			n1.watch.Shutdown() // saved, leases handed back
			leases := n1.db.Watch()
			reconnects := func(room string) chan watch.Event {
				got := make(chan watch.Event, 4)
				sub, err := n2.bus.Subscribe(watch.NodeTopic(room, n2.watch.NodeID()), func(m bus.Message) {
					if ev, err := watch.DecodeEvent(m.Data); err == nil {
						got <- ev
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = sub.Unsubscribe() })
				return got
			}
			// Node 2's proxy for each room names node 1 ...
			proxies := map[string]*watch.Room{}
			for _, room := range []string{"drift", "drift2"} {
				now := time.Now()
				if owner, err := leases.ClaimRoomLease(ctx, room, n1.watch.NodeID(), now, now.Add(time.Hour)); err != nil || owner != n1.watch.NodeID() {
					t.Fatalf("lease for node 1: %q %v", owner, err)
				}
				r, err := n2.watch.Get(ctx, room)
				if err != nil {
					t.Fatal(err)
				}
				proxies[room] = r
				// ... and the room moves to node 3 while node 1 runs it no more.
				if err := leases.ReleaseRoomLease(ctx, room, n1.watch.NodeID()); err != nil {
					t.Fatal(err)
				}
				if owner, err := leases.ClaimRoomLease(ctx, room, n3.watch.NodeID(), now, now.Add(time.Hour)); err != nil || owner != n3.watch.NodeID() {
					t.Fatalf("lease for node 3: %q %v", owner, err)
				}
			}
			awaitReconnect := func(room string, got chan watch.Event) {
				t.Helper()
				select {
				case ev := <-got:
					if ev.Type != watch.EvClose || ev.Close != watch.CloseShutdown {
						t.Fatalf("%s: sockets got %+v, want a reconnect", room, ev)
					}
				case <-time.After(hangGuard):
					t.Fatalf("%s: the sockets on node 2 were not told to reconnect", room)
				}
			}

			// A call through the old proxy: node 1 answers "moved".
			got := reconnects("drift")
			if snap, err := proxies["drift"].Describe(ctx); err != nil || snap.Name != "drift" {
				t.Fatalf("state through the moved proxy: %+v %v", snap, err)
			}
			awaitReconnect("drift", got)
			if owner, _ := leases.RoomLeaseOwner(ctx, "drift", time.Now()); owner != n3.watch.NodeID() {
				t.Fatalf("drift's lease moved to %q", owner)
			}

			// A new request on node 2 finds the lease on node 3.
			got = reconnects("drift2")
			if r := n2.do("GET", "/api/room/drift2", tb, nil); r.status != 200 || r.body["name"] != "drift2" {
				t.Fatalf("GET drift2 on node 2: %d %s", r.status, r.raw)
			}
			awaitReconnect("drift2", got)
		})
	}
}
