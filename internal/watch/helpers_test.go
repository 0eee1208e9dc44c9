package watch

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// memStore is an in-memory Store for the domain's unit tests (the SQL
// stores run the same flows in store/watch_test.go).
type memStore struct {
	mu    sync.Mutex
	rooms map[string]Record
	// beforeDelete, when set, runs in DeleteRoom before the row goes.
	beforeDelete func()
}

func (m *memStore) CreateRoom(_ context.Context, r *Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := strings.ToLower(r.Name)
	if _, ok := m.rooms[k]; ok {
		return fault.Conflict
	}
	m.rooms[k] = *r
	return nil
}

func (m *memStore) RoomByName(_ context.Context, name string) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[strings.ToLower(name)]
	if !ok {
		return nil, fault.NotFound
	}
	return &r, nil
}

func (m *memStore) TakeRoom(_ context.Context, name string) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := strings.ToLower(name)
	r, ok := m.rooms[k]
	if !ok {
		return nil, fault.NotFound
	}
	r.Gen++
	m.rooms[k] = r
	return &r, nil
}

// SaveRoom fences as the SQL store does (Record.Gen, Record.Version).
func (m *memStore) SaveRoom(_ context.Context, r *Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := strings.ToLower(r.Name)
	old, ok := m.rooms[k]
	switch {
	case !ok:
		return fault.NotFound
	case r.Gen == 0:
		r := *r
		r.Gen, r.Version = old.Gen, old.Version
		m.rooms[k] = r
		return nil
	case r.Gen != old.Gen:
		return ErrSuperseded
	case r.Version <= old.Version:
		return nil
	}
	m.rooms[k] = *r
	return nil
}

func (m *memStore) DeleteRoom(_ context.Context, name string, gen int64) error {
	if m.beforeDelete != nil {
		m.beforeDelete()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := strings.ToLower(name)
	if old, ok := m.rooms[k]; ok && gen != 0 && old.Gen != gen {
		return ErrSuperseded
	}
	delete(m.rooms, k)
	return nil
}

func (m *memStore) RoomsByOwner(_ context.Context, owner string) ([]*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Record
	for _, r := range m.rooms {
		if r.OwnerID == owner {
			out = append(out, &r)
		}
	}
	return out, nil
}

func (m *memStore) DeleteTemporaryRoomsBefore(context.Context, time.Time) (int, error) { return 0, nil }

type published struct {
	topic string
	ev    Event
}

// recorder captures published events in order.
type recorder struct {
	mu  sync.Mutex
	evs []published
}

func (r *recorder) Publish(_ context.Context, topic string, data []byte) error {
	ev, err := DecodeEvent(data)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.evs = append(r.evs, published{topic, ev})
	r.mu.Unlock()
	return nil
}

func (r *recorder) take() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.evs
	r.evs = nil
	return out
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeMedia answers Info with a video of the given length.
type fakeMedia struct{}

func (fakeMedia) Info(_ context.Context, service, id string) (Video, error) {
	if id == "missing" {
		return Video{}, fault.New(fault.NotFound, "video not found")
	}
	return Video{Service: service, ID: id, Title: "Video " + id, Length: 60}, nil
}

func (fakeMedia) ResolveURL(_ context.Context, url string) ([]Video, error) {
	if strings.HasSuffix(url, "/list") {
		return []Video{{Service: "direct", ID: url + "/1", Title: "one", Length: 10}, {Service: "direct", ID: url + "/2", Title: "two", Length: 10}}, nil
	}
	return []Video{{Service: "direct", ID: url, Title: "direct", Length: 10}}, nil
}

type env struct {
	t     *testing.T
	svc   *Service
	st    *memStore
	rec   *recorder
	clock *fakeClock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, st: &memStore{rooms: map[string]Record{}}, rec: &recorder{},
		clock: &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	svc, err := New(Config{AllowTemp: true, Now: e.clock.Now, SyncDelay: time.Hour, SaveDelay: time.Hour}, e.st, e.rec, fakeMedia{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	return e
}

func (e *env) room(name string, owner string) *Room {
	e.t.Helper()
	r, err := e.svc.Create(context.Background(), CreateInput{Name: name, Temporary: owner == "", OwnerID: owner})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func anon(id string) Actor { return Actor{AccountID: id, SessionID: "s-" + id, Name: "anon " + id} }
func registered(id string) Actor {
	return Actor{AccountID: id, SessionID: "s-" + id, Name: "user " + id, LoggedIn: true}
}

func (e *env) do(r *Room, a Actor, client string, req Request) error {
	return e.svc.Handle(context.Background(), r, a, client, req)
}

func (e *env) must(r *Room, a Actor, client string, req Request) {
	e.t.Helper()
	if err := e.do(r, a, client, req); err != nil {
		e.t.Fatalf("request %d: %v", req.Type, err)
	}
}

// event takes what was published and returns the last event record of a
// request of typ in it, failing the test when there is none.
func (e *env) event(typ RequestType) *EventRecord {
	e.t.Helper()
	var last *EventRecord
	for _, p := range e.rec.take() {
		if p.ev.Type == EvEvent && p.ev.Event.Request.Type == typ {
			last = p.ev.Event
		}
	}
	if last == nil {
		e.t.Fatalf("no event for request %d", typ)
	}
	return last
}

// flush publishes the pending sync delta now and returns it.
func (e *env) flush(r *Room) *Sync {
	r.flushSync()
	var last *Sync
	for _, p := range e.rec.take() {
		if p.ev.Type == EvSync {
			last = p.ev.Sync
		}
	}
	return last
}

// settings reads a settings change written as a client would send it
// (the OTT surface's JSON), for tests that are about rules, not the wire.
func settings(t testing.TB, s string) *Settings {
	t.Helper()
	var w struct {
		Title                     *string
		Description               *string
		Visibility                *Visibility
		QueueMode                 *QueueMode
		Grants                    json.RawMessage
		AutoSkipSegmentCategories *[]string
		RestoreQueueBehavior      *int
		EnableVoteSkip            *bool
	}
	if err := json.Unmarshal([]byte(s), &w); err != nil {
		t.Fatal(err)
	}
	out := &Settings{Title: w.Title, Description: w.Description, Visibility: w.Visibility, QueueMode: w.QueueMode,
		AutoSkip: w.AutoSkipSegmentCategories, Restore: w.RestoreQueueBehavior, VoteSkip: w.EnableVoteSkip}
	if len(w.Grants) > 0 {
		g, err := ParseGrantPairs(w.Grants)
		if err != nil {
			t.Fatal(err)
		}
		out.Grants = g
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func ref(id string) *VideoRef { return &VideoRef{Service: "direct", ID: id} }
