package watch

import (
	"context"
	"encoding/json"
	"testing"
)

// FuzzRoomRequest decodes arbitrary bytes as a room request (as a socket
// frame's "request" would be) and applies it: nothing may panic, and the
// room's invariants hold afterwards.
func FuzzRoomRequest(f *testing.F) {
	for _, s := range []string{
		`{"type":2,"state":true}`, `{"type":4,"value":1e308}`, `{"type":7,"fromIdx":0,"toIdx":99}`,
		`{"type":13,"settings":{"grants":[[0,-1],[9,1]]}}`, `{"type":13,"settings":{"queueMode":"dj","title":"x\n"}}`,
		`{"type":12,"event":{"request":{"type":5,"videos":[{"service":"direct","id":"a"}]},"additional":{}}}`,
		`{"type":12,"event":{"request":{"type":6},"additional":{"video":{"service":"direct","id":"z"},"queueIdx":-5}}}`,
		`{"type":9,"targetClientId":"c2","role":4}`, `{"type":16,"speed":0}`, `{"type":18,"clientId":"c1","ban":true}`,
		`{"type":14,"video":{"service":"direct","id":"b"}}`, `{"type":8,"video":{"service":"direct","id":"a"},"add":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req Request
		if json.Unmarshal(data, &req) != nil {
			return
		}
		e := newEnv(t)
		r := e.room("fuzzroom", "owner")
		owner, guest := registered("owner"), anon("g")
		if r.Join(owner, "c1") != nil || r.Join(guest, "c2") != nil {
			t.Fatal("join")
		}
		_ = e.do(r, owner, "c1", Request{Type: ReqAdd, Videos: []VideoRef{*ref("a"), *ref("b"), *ref("c")}})
		for _, who := range []struct {
			a Actor
			c string
		}{{owner, "c1"}, {guest, "c2"}} {
			_ = e.svc.Handle(context.Background(), r, who.a, who.c, req)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		seen := map[string]bool{}
		for _, v := range r.queue {
			if seen[v.Key()] || (r.current != nil && r.current.Key() == v.Key()) {
				t.Fatalf("duplicate queue item %s", v.Key())
			}
			seen[v.Key()] = true
		}
		if s := r.clock.speed(); s < 0.25 || s > 2 {
			t.Fatalf("speed %v", s)
		}
		if !r.queueMode.Valid() || !r.visibility.Valid() || r.grants.Mask(RoleOwner) != AllPermissions {
			t.Fatal("invalid settings")
		}
		_ = r.recordLocked()
	})
}
