package ott_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/watch"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite the golden files in testdata")

// TestGoldenWire pins the exact bytes Hearth sends as OpenTogetherTube:
// the room socket's messages (sync deltas with their keys, events, chat,
// user updates) and the room REST answers, field order and omitted fields
// included. The watch domain's model is not OTT's; this is what keeps the
// translation in the surface faithful. Values that vary between runs
// (server time, client ids, generated names, the fixture server's address)
// are replaced by placeholders; everything else is compared byte for byte.
// Rewrite with: go test ./internal/surface/ott -run TestGoldenWire -update-golden
func TestGoldenWire(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	ta, tb := h.grant(), h.grant()
	for tok, name := range map[string]string{ta: "alice", tb: "bob"} {
		if r := h.do("POST", "/api/user", tok, map[string]any{"username": name}); r.status != 200 {
			t.Fatalf("set name: %d %s", r.status, r.raw)
		}
	}
	h.createRoom(ta, "golden", map[string]any{"title": "Golden", "description": "pinned bytes"})

	var out bytes.Buffer
	ids := map[string]string{}
	read := func(w *wsClient, stop func(string) bool) {
		t.Helper()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			_, b, err := w.c.Read(ctx)
			cancel()
			if err != nil {
				t.Fatalf("read: %v (so far:\n%s)", err, out.String())
			}
			out.Write(b)
			out.WriteByte('\n')
			if stop(string(b)) {
				return
			}
		}
	}
	section := func(name string) { out.WriteString("## " + name + "\n") }
	isSync := func(key string) func(string) bool {
		return func(s string) bool {
			return strings.HasPrefix(s, `{"action":"sync"`) && strings.Contains(s, `"`+key+`":`)
		}
	}
	isAction := func(a string) func(string) bool {
		return func(s string) bool { return strings.Contains(s, `"action":"`+a+`"`) }
	}

	section("alice joins")
	a := h.dial("golden")
	a.send(map[string]any{"action": "auth", "token": ta})
	read(a, isAction("you"))
	section("bob joins (alice's view)")
	b, bID := h.join("golden", tb)
	read(a, func(s string) bool { return strings.Contains(s, `"kind":"update"`) })
	ids[bID] = "CLIENT-B"

	section("add a video")
	if r := h.do("POST", "/api/room/golden/queue", ta, map[string]any{"service": "direct", "id": h.fixture("clip1.mp4")}); r.status != 200 {
		t.Fatalf("add: %s", r.raw)
	}
	read(a, func(s string) bool { return isSync("currentSource")(s) && !strings.Contains(s, `"currentSource":null`) })
	section("queue two more")
	if r := h.do("POST", "/api/room/golden/queue", ta, map[string]any{"videos": []map[string]any{
		{"service": "direct", "id": h.fixture("clip2.mp4")}, {"service": "direct", "id": h.fixture("clip3.mp4")}}}); r.status != 200 {
		t.Fatalf("add: %s", r.raw)
	}
	read(a, isSync("queue"))
	section("seek")
	a.req(watch.ReqSeek, map[string]any{"value": 1.5})
	read(a, isSync("playbackPosition"))
	section("chat")
	b.req(watch.ReqChat, map[string]any{"text": "hello <there>"})
	read(a, isAction("chat"))
	section("status")
	b.send(map[string]any{"action": "status", "status": "ready"})
	read(a, isAction("user"))
	section("settings")
	if r := h.do("PATCH", "/api/room/golden", ta, map[string]any{"title": "Golden 2", "queueMode": "vote",
		"enableVoteSkip": true, "autoSkipSegmentCategories": []string{"intro", "sponsor"}}); r.status != 200 {
		t.Fatalf("settings: %s", r.raw)
	}
	read(a, isSync("title"))
	section("vote")
	b.req(watch.ReqVote, map[string]any{"video": map[string]any{"service": "direct", "id": h.fixture("clip3.mp4")}, "add": true})
	read(a, isSync("voteCounts"))
	section("update queue item")
	if r := h.do("PATCH", "/api/room/golden/queue", ta, map[string]any{"service": "direct", "id": h.fixture("clip2.mp4"), "subtitleUrl": "https://example.com/s.vtt"}); r.status != 200 {
		t.Fatalf("update item: %s", r.raw)
	}
	read(a, isSync("queue"))
	section("remove")
	if r := h.do("DELETE", "/api/room/golden/queue", ta, map[string]any{"service": "direct", "id": h.fixture("clip3.mp4")}); r.status != 200 {
		t.Fatalf("remove: %s", r.raw)
	}
	read(a, isSync("queue"))
	section("speed")
	a.req(watch.ReqPlaybackSpeed, map[string]any{"speed": 1.5})
	read(a, isSync("playbackSpeed"))
	section("vote to skip")
	b.req(watch.ReqSkip, nil)
	read(a, isSync("votesToSkip"))
	a.req(watch.ReqSkip, nil)
	read(a, isSync("currentSource"))
	section("announcement")
	if r := h.do("POST", "/api/announce", "", map[string]any{"text": "maintenance"}, "apikey", testAPIKey); r.status != 200 {
		t.Fatalf("announce: %d %s", r.status, r.raw)
	}
	read(a, isAction("announcement"))
	section("refused request")
	a.req(watch.ReqRemove, map[string]any{"video": map[string]any{"service": "direct", "id": "nope"}})
	read(a, isAction("eventcustom"))

	section("GET /api/room/golden")
	out.Write(h.do("GET", "/api/room/golden", ta, nil).raw)
	out.WriteByte('\n')
	section("GET /api/room/list")
	out.Write(h.do("GET", "/api/room/list", ta, nil).raw)
	out.WriteByte('\n')

	section("bob leaves")
	b.c.Close(websocket.StatusNormalClosure, "")
	read(a, func(s string) bool { return strings.Contains(s, `"kind":"remove"`) })

	got := out.String()
	got = strings.ReplaceAll(got, h.fixtures.URL, "FIXTURES")
	for id, p := range ids {
		got = strings.ReplaceAll(got, id, p)
	}
	got = regexp.MustCompile(`"serverTime":\d+`).ReplaceAllString(got, `"serverTime":TIME`)
	uuidRe := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	got = uuidRe.ReplaceAllString(got, "CLIENT-A")

	path := filepath.Join("testdata", "golden_wire.txt")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("wire output differs at line %d:\n got: %s\nwant: %s", i+1, g, w)
			}
		}
	}
}
