package together_test

import (
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// TestSearchesTakeTurns: message searches take turns on a node
// (Deps.MaxSearches); while every turn is held, a search waits
// Deps.SearchWait and is answered 503 with Retry-After, and other routes
// are untouched; once a turn is free it runs. Measured on the binary: a
// channel of 150,000 matches cost 65 ms of CPU a search, and one member's
// 64 searches side by side made other members' message reads take 3-5 s.
func TestSearchesTakeTurns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.MaxSearches, d.SearchWait = 2, 10*time.Millisecond })
	ann := e.register("ann")
	sid, cid := e.serverWithChannel(ann, "g")
	e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "hello there"})
	release := e.surf.HoldSearchTurns(t)
	code, obj, hdr := e.callH("GET", "/servers/"+sid+"/search?q=hello", ann.access, nil)
	if code != 503 || obj["error"] != "The server is busy with other searches; try again shortly" || hdr.Get("Retry-After") == "" {
		t.Fatalf("search with every turn held: %d %v %v", code, obj, hdr)
	}
	e.must(200, "GET", "/channels/"+cid+"/messages", ann.access, nil)
	release()
	if res, _ := e.must(200, "GET", "/servers/"+sid+"/search?q=hello", ann.access, nil); res["total"] != 1.0 {
		t.Fatalf("search once a turn is free: %v", res)
	}
}

// TestSearchTurnsPerAccount: one account runs or awaits at most
// SearchesPerAccount searches at once; past that its next is refused at
// once (429 with Retry-After) while another member's search runs on a free
// turn. Before, one account sending searches side by side took every turn
// and the queue behind them, and every other member's search waited out
// SearchWait and was answered 503.
func TestSearchTurnsPerAccount(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng, func(d *together.Deps) { d.MaxSearches, d.SearchWait = 2*together.SearchesPerAccount, time.Hour })
			ann, bob := e.register("ann"), e.register("bob")
			sid, cid := e.serverWithChannel(ann, "g", bob)
			e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "hello there"})
			release := e.surf.HoldSearchTurnsOf(t, ann.id)
			code, obj, hdr := e.callH("GET", "/servers/"+sid+"/search?q=hello", ann.access, nil)
			if code != 429 || obj["error"] != "You are searching too quickly. Max 2 searches at once." || hdr.Get("Retry-After") == "" {
				t.Fatalf("ann's search past her share: %d %v %v", code, obj, hdr)
			}
			if res, _ := e.must(200, "GET", "/servers/"+sid+"/search?q=hello", bob.access, nil); res["total"] != 1.0 {
				t.Fatalf("bob's search beside ann's: %v", res)
			}
			release()
			if res, _ := e.must(200, "GET", "/servers/"+sid+"/search?q=hello", ann.access, nil); res["total"] != 1.0 {
				t.Fatalf("ann's search once hers are done: %v", res)
			}
		})
	}
}
