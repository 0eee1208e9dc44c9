package watch

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// batchStore is a memStore that can save several rooms at once, and counts
// how it was asked to.
type batchStore struct {
	*memStore
	mu      sync.Mutex
	batches []int // rooms per SaveRooms call
	fail    bool  // SaveRooms fails (as when one room's row is gone)
}

func (b *batchStore) SaveRooms(ctx context.Context, rs []*Record) error {
	b.mu.Lock()
	b.batches = append(b.batches, len(rs))
	fail := b.fail
	b.mu.Unlock()
	if fail {
		return errors.New("one row is gone")
	}
	for _, r := range rs {
		if err := b.SaveRoom(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (b *batchStore) position(t *testing.T, room string) float64 {
	t.Helper()
	b.memStore.mu.Lock()
	rec := b.rooms[strings.ToLower(room)]
	b.memStore.mu.Unlock()
	var st storedState
	if err := json.Unmarshal(rec.State, &st); err != nil {
		t.Fatalf("room %s: stored state %s: %v", room, rec.State, err)
	}
	return st.Position
}

// TestSeeksOfManyRoomsAreSavedInOneTransaction: the rooms changed within
// one save delay are written by one SaveRooms call, each with its latest
// state; a room saved synchronously since (a queue change) is not written
// again; and when the batch fails every room is still saved on its own.
func TestSeeksOfManyRoomsAreSavedInOneTransaction(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		st := &batchStore{memStore: &memStore{rooms: map[string]Record{}}, fail: fail}
		svc, err := New(Config{AllowTemp: true, SyncDelay: time.Hour, SaveDelay: time.Hour}, st, &recorder{}, fakeMedia{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		owner := registered("o")
		ctx := context.Background()
		rooms := map[string]*Room{}
		for _, name := range []string{"roomA", "roomB", "roomC"} {
			r, err := svc.Create(ctx, CreateInput{Name: name, OwnerID: "o"})
			if err != nil {
				t.Fatal(err)
			}
			rooms[name] = r
		}
		seek := func(room string, v float64) {
			t.Helper()
			if err := svc.Handle(ctx, rooms[room], owner, "", Request{Type: ReqSeek, Value: &v}); err != nil {
				t.Fatal(err)
			}
		}
		seek("roomA", 10)
		seek("roomB", 20)
		seek("roomA", 11) // the same room again: listed once, its latest state kept
		seek("roomC", 30)
		// roomC's queue change is written at once; the batch leaves roomC alone.
		if err := svc.Handle(ctx, rooms["roomC"], owner, "", Request{Type: ReqAdd, Videos: []VideoRef{*ref("1")}}); err != nil {
			t.Fatal(err)
		}
		svc.flushSaves()
		st.mu.Lock()
		batches := append([]int(nil), st.batches...)
		st.mu.Unlock()
		if len(batches) != 1 || batches[0] != 2 {
			t.Fatalf("fail=%v: SaveRooms calls of %v rooms, want one call of 2 (roomA, roomB)", fail, batches)
		}
		// roomC: the added video became current, from 0.
		for room, want := range map[string]float64{"roomA": 11, "roomB": 20, "roomC": 0} {
			if got := st.position(t, room); got != want {
				t.Fatalf("fail=%v: room %s stored at %v, want %v", fail, room, got, want)
			}
		}
	}
}
