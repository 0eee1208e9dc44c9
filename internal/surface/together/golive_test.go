package together_test

import (
	"encoding/json"
	"testing"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestGoLiveAcrossNodes: two nodes on one database and bus share go-live
// sessions: started through one node, seen, refused and stopped through the
// other, with Together's statuses and texts.
func TestGoLiveAcrossNodes(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db, b := eng.Open(t), bus.NewLocal()
			n1, n2 := newNode(t, db, b), newNode(t, db, b)
			ann, bob, carl := n1.register("ann"), n1.register("bob"), n1.register("carl")
			srv, _ := n1.must(201, "POST", "/servers", ann.access, map[string]any{"name": "G", "is_public": true})
			sid := srv["id"].(string)
			n1.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
			n1.must(201, "POST", "/servers/"+sid+"/join", carl.access, nil)
			vc, _ := n1.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
			path := "/channels/" + vc["id"].(string) + "/go-live"

			// As Together: only someone in the channel's call goes live.
			if code, obj, _ := n1.call("POST", path, bob.access, map[string]any{}); code != 400 || obj["error"] != "You must be in the voice channel to go live" {
				t.Errorf("not in the call: %d %v", code, obj)
			}
			n1.must(201, "POST", "/channels/"+vc["id"].(string)+"/voice", bob.access, map[string]any{})
			n1.must(201, "POST", "/channels/"+vc["id"].(string)+"/voice", ann.access, map[string]any{})
			n1.must(201, "POST", path, bob.access, map[string]any{"quality": "480p"})
			// Starting again replaces one's own session (Together: 201).
			started, _ := n1.must(201, "POST", path, bob.access, map[string]any{"quality": "1080p"})
			got, _ := n2.must(200, "GET", path, ann.access, nil)
			if got["broadcaster_id"] != bob.id || got["quality"] != "1080p" || got["started_at"] != started["started_at"] ||
				got["channel_id"] != vc["id"] { // Together's GET names the channel
				t.Errorf("session on node 2 %v, started %v", got, started)
			}
			for _, c := range []struct {
				name, method, auth string
				status             int
				msg                string
			}{
				{"second broadcaster", "POST", ann.access, 400, "Another user is already broadcasting in this channel"},
				{"stop by a plain member", "DELETE", carl.access, 403, "Only the broadcaster can stop this session"},
			} {
				if code, obj, _ := n2.call(c.method, path, c.auth, map[string]any{}); code != c.status || obj["error"] != c.msg {
					t.Errorf("%s: %d %v, want %d %q", c.name, code, obj, c.status, c.msg)
				}
			}
			n2.must(204, "DELETE", path, bob.access, nil)
			for _, n := range []*env{n1, n2} {
				if code, obj, _ := n.call("GET", path, ann.access, nil); code != 404 || obj["error"] != "No active Go Live session" {
					t.Errorf("after stop: %d %v", code, obj)
				}
			}
			n1.must(404, "DELETE", path, bob.access, nil)
			n2.must(201, "POST", path, ann.access, nil) // the channel is free again

			// A broadcaster who leaves the call ends the broadcast (Together
			// keeps it, and nobody else could go live there), seen on both
			// nodes; the channel is free for someone in the call.
			n1.must(204, "DELETE", "/channels/"+vc["id"].(string)+"/voice", ann.access, nil)
			for _, n := range []*env{n1, n2} {
				if code, obj, _ := n.call("GET", path, bob.access, nil); code != 404 || obj["error"] != "No active Go Live session" {
					t.Errorf("after the broadcaster left the call: %d %v", code, obj)
				}
			}
			n2.must(201, "POST", path, bob.access, nil)
		})
	}
}

// TestGoLiveNeedsSpeak: Go Live needs SPEAK in the channel (Hearth's rule;
// Together asks only that the broadcaster be in the call). A member an
// override or a role denies SPEAK is refused (403, Together's error shape)
// though in the call, and a running Go Live ends (GO_LIVE_STOP, seen on the
// other node) when SPEAK is taken away by an override or by a role given,
// while its broadcaster stays in the call.
func TestGoLiveNeedsSpeak(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db, b := eng.Open(t), bus.NewLocal()
			n1, n2 := newNode(t, db, b), newNode(t, db, b)
			ann, bob := n1.register("ann"), n1.register("bob")
			srv, _ := n1.must(201, "POST", "/servers", ann.access, map[string]any{"name": "G", "is_public": true})
			sid := srv["id"].(string)
			n1.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
			vc, _ := n1.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
			cid := vc["id"].(string)
			path := "/channels/" + cid + "/go-live"
			// bob keeps a socket, so that nothing but SPEAK ends his Go
			// Live (an account connected nowhere is swept from its call).
			bsock, _, err := n1.dial("token=" + bob.access)
			if err != nil {
				t.Fatal(err)
			}
			bsock.waitFor("READY")
			n1.must(201, "POST", "/channels/"+cid+"/voice", bob.access, map[string]any{})
			sock, _, err := n2.dial("token=" + ann.access)
			if err != nil {
				t.Fatal(err)
			}
			sock.waitFor("READY")
			stopped := func(why string) {
				t.Helper()
				f := sock.waitFor("GO_LIVE_STOP")
				var d struct {
					ChannelID     string `json:"channel_id"`
					BroadcasterID string `json:"broadcaster_id"`
				}
				_ = json.Unmarshal(f.D, &d)
				if d.ChannelID != cid || d.BroadcasterID != bob.id {
					t.Fatalf("%s: GO_LIVE_STOP %s", why, f.D)
				}
				for _, n := range []*env{n1, n2} {
					if code, obj, _ := n.call("GET", path, ann.access, nil); code != 404 {
						t.Fatalf("%s: the session stayed: %d %v", why, code, obj)
					}
				}
				if _, list := n2.must(200, "GET", "/channels/"+cid+"/voice", ann.access, nil); len(list) != 1 {
					t.Fatalf("%s: the broadcaster left the call: %v", why, list)
				}
			}

			// Denied SPEAK by an override: in the call, but refused.
			deny, _ := n1.must(200, "PUT", "/channels/"+cid+"/overrides", ann.access, map[string]any{"user_id": bob.id, "allow": 0, "deny": 64})
			if code, obj, _ := n1.call("POST", path, bob.access, map[string]any{}); code != 403 || obj["error"] != "You do not have permission to speak in this channel" {
				t.Fatalf("go live without SPEAK: %d %v", code, obj)
			}
			n1.must(204, "DELETE", "/channels/"+cid+"/overrides/"+deny["id"].(string), ann.access, nil)
			n1.must(201, "POST", path, bob.access, map[string]any{})
			sock.waitFor("GO_LIVE_START")

			// SPEAK taken away by an override ends it.
			deny, _ = n1.must(200, "PUT", "/channels/"+cid+"/overrides", ann.access, map[string]any{"user_id": bob.id, "allow": 0, "deny": 64})
			stopped("override")
			n1.must(204, "DELETE", "/channels/"+cid+"/overrides/"+deny["id"].(string), ann.access, nil)

			// And by a role given whose override denies it.
			role, _ := n1.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "hushed"})
			rid := role["id"].(string)
			n1.must(200, "PUT", "/channels/"+cid+"/overrides", ann.access, map[string]any{"role_id": rid, "allow": 0, "deny": 64})
			n1.must(201, "POST", path, bob.access, map[string]any{})
			sock.waitFor("GO_LIVE_START")
			n1.must(204, "PUT", "/servers/"+sid+"/members/"+bob.id+"/roles/"+rid, ann.access, nil)
			stopped("role")
			if code, _, _ := n2.call("POST", path, bob.access, map[string]any{}); code != 403 {
				t.Fatalf("go live with the role: %d", code)
			}
			// The owner, who keeps SPEAK, goes live in the same call.
			n1.must(201, "POST", "/channels/"+cid+"/voice", ann.access, map[string]any{})
			n2.must(201, "POST", path, ann.access, map[string]any{})
		})
	}
}

// TestGoLiveSignalsFollowTheBroadcaster: the gateway relays a go_live
// VOICE_SIGNAL only along the channel's Go Live, as Together's client sends
// it: offers (and candidates) from the current broadcaster, answers and
// candidates from a viewer to it. A member in the call who is not live (no
// session, someone else's session, or their own ended by SPEAK taken away)
// sends go_live offers, answers and candidates that reach nobody (Together
// relays any); voice signals between the same members still flow. Each drop
// is seen as the next relayed frame being the voice signal sent after it.
func TestGoLiveSignalsFollowTheBroadcaster(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann, bob, carl := e.register("ann"), e.register("bob"), e.register("carl")
			srv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "G", "is_public": true})
			sid := srv["id"].(string)
			e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
			e.must(201, "POST", "/servers/"+sid+"/join", carl.access, nil)
			vc, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
			cid := vc["id"].(string)
			socks := map[string]*ws{}
			for _, u := range []user{ann, bob, carl} {
				w, _, err := e.dial("token=" + u.access)
				if err != nil {
					t.Fatal(err)
				}
				w.waitFor("READY")
				socks[u.id] = w
				e.must(201, "POST", "/channels/"+cid+"/voice", u.access, map[string]any{})
			}
			signal := func(from, to user, typ, stream, payload string) {
				t.Helper()
				d := map[string]any{"to_user_id": to.id, "type": typ, "stream_type": stream}
				if typ == "candidate" {
					d["candidate"] = payload
				} else {
					d["sdp"] = payload
				}
				socks[from.id].send(map[string]any{"op": "VOICE_SIGNAL", "t": nil, "d": d})
			}
			// next returns the next VOICE_SIGNAL to u as from, stream, payload.
			next := func(u user) (string, string, string) {
				t.Helper()
				var d struct {
					From      string  `json:"from_user_id"`
					Stream    string  `json:"stream_type"`
					SDP       *string `json:"sdp"`
					Candidate *string `json:"candidate"`
				}
				_ = json.Unmarshal(socks[u.id].waitFor("VOICE_SIGNAL").D, &d)
				p := d.SDP
				if p == nil {
					p = d.Candidate
				}
				if p == nil {
					return d.From, d.Stream, ""
				}
				return d.From, d.Stream, *p
			}
			relayed := func(why string, from, to user, typ, payload string) {
				t.Helper()
				signal(from, to, typ, "go_live", payload)
				if f, st, p := next(to); f != from.id || st != "go_live" || p != payload {
					t.Fatalf("%s: got %s %s %q, want %s's go_live %q", why, f, st, p, from.name, payload)
				}
			}
			dropped := func(why string, from, to user, typ string) {
				t.Helper()
				signal(from, to, typ, "go_live", "dropped "+why)
				signal(from, to, "offer", "voice", "marker "+why)
				if f, st, p := next(to); f != from.id || st != "voice" || p != "marker "+why {
					t.Fatalf("%s: relayed %s %s %q before the voice signal", why, f, st, p)
				}
			}

			dropped("offer, nobody live", carl, bob, "offer")
			dropped("candidate, nobody live", carl, bob, "candidate")

			e.must(201, "POST", "/channels/"+cid+"/go-live", bob.access, map[string]any{})
			// Together's flow: the broadcaster offers to each member after
			// its POST, each answers and both trickle candidates.
			relayed("broadcaster's offer", bob, carl, "offer", "v=0 bob")
			relayed("viewer's answer", carl, bob, "answer", "v=0 carl")
			relayed("viewer's candidate", carl, bob, "candidate", `{"candidate":"carl"}`)
			relayed("broadcaster's candidate", bob, carl, "candidate", `{"candidate":"bob"}`)
			relayed("broadcaster's offer to another", bob, ann, "offer", "v=0 bob")
			// A member not live reaches nobody over go_live, though someone is.
			dropped("offer, another live", carl, ann, "offer")
			dropped("answer not to the broadcaster", carl, ann, "answer")
			dropped("candidate not to the broadcaster", ann, carl, "candidate")

			// SPEAK taken away ends bob's Go Live, and his offers with it.
			e.must(200, "PUT", "/channels/"+cid+"/overrides", ann.access, map[string]any{"user_id": bob.id, "allow": 0, "deny": 64})
			socks[carl.id].waitFor("GO_LIVE_STOP")
			dropped("offer after the stop", bob, carl, "offer")
			dropped("answer after the stop", carl, bob, "answer")
		})
	}
}
