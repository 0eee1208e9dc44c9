package ott_test

import (
	"testing"

	"github.com/coder/websocket"
)

// TestDevRoutesOff: without the flag no development route exists.
func TestDevRoutesOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	for _, path := range []string{"/api/dev/user/force-login", "/api/dev/set-admin-api-key", "/api/dev/reset-rate-limit"} {
		if r := h.do("POST", path, tok, map[string]any{"username": "x", "newkey": "k"}); r.status == 200 || r.body["success"] == true {
			t.Errorf("%s answered %d %s with the development routes off", path, r.status, r.raw)
		}
	}
}

// TestDevRoutes drives OpenTogetherTube's development routes as its
// Playwright suite does.
func TestDevRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{dev: true, rateLimit: true})
	tok := h.grant()

	t.Run("create-social and force-login", func(t *testing.T) {
		r := h.do("POST", "/api/dev/user/create-social", tok, map[string]any{"username": "socialite"})
		u, _ := r.body["user"].(map[string]any)
		if r.status != 200 || r.body["success"] != true || u["username"] != "socialite" || u["id"] == "" {
			t.Fatalf("create-social: %d %s", r.status, r.raw)
		}
		me := h.grant()
		if r := h.do("POST", "/api/dev/user/force-login", me, map[string]any{"username": "socialite"}); r.status != 200 {
			t.Fatalf("force-login: %d %s", r.status, r.raw)
		}
		if r := h.do("GET", "/api/user", me, nil); r.body["loggedIn"] != true || r.body["username"] != "socialite" {
			t.Fatalf("after force-login: %s", r.raw)
		}
		for _, name := range []string{"nobody", ""} {
			if r := h.do("POST", "/api/dev/user/force-login", me, map[string]any{"username": name}); r.status != 404 || r.errName() != "UserNotFound" {
				t.Errorf("force-login %q: %d %s", name, r.status, r.raw)
			}
		}
		if r := h.do("POST", "/api/dev/user/set-discord-link", me, map[string]any{"username": "socialite"}); r.status != 200 {
			t.Errorf("set-discord-link: %d %s", r.status, r.raw)
		}
	})

	t.Run("set-admin-api-key", func(t *testing.T) {
		if r := h.do("POST", "/api/dev/set-admin-api-key", tok, map[string]any{"newkey": "NEWKEY-0123456789"}); r.status != 200 {
			t.Fatalf("set key: %d %s", r.status, r.raw)
		}
		if r := h.do("GET", "/api/room/list", tok, nil, "apikey", "NEWKEY-0123456789"); r.status != 200 {
			t.Fatalf("new key refused: %d %s", r.status, r.raw)
		}
		if r := h.do("GET", "/api/room/list", tok, nil, "apikey", testAPIKey); r.status != 400 {
			t.Fatalf("old key still accepted: %d", r.status)
		}
		h.do("POST", "/api/dev/set-admin-api-key", tok, map[string]any{"newkey": testAPIKey})
	})

	t.Run("rooms", func(t *testing.T) {
		h.createRoom(tok, "devroom", map[string]any{"isTemporary": false})
		if r := h.do("POST", "/api/dev/room/devroom/add-fake-user", tok, map[string]any{}); r.status != 200 || r.body["success"] != true {
			t.Fatalf("add-fake-user: %d %s", r.status, r.raw)
		}
		if r := h.do("POST", "/api/dev/room/devroom/add-fake-user", tok, map[string]any{"register": true}); r.body["success"] != true {
			t.Fatalf("add-fake-user register: %s", r.raw)
		}
		r := h.do("GET", "/api/room/devroom", tok, nil)
		if users, _ := r.body["users"].([]any); len(users) != 2 {
			t.Fatalf("fake users in the room: %s", r.raw)
		}
		if r := h.do("POST", "/api/dev/room/nosuchroom/add-fake-user", tok, nil); r.body["success"] != false || r.errName() != "RoomNotFound" {
			t.Fatalf("add-fake-user to a missing room: %s", r.raw)
		}

		c, _ := h.join("devroom", tok)
		if r := h.do("POST", "/api/dev/room/devroom/force-disconnect", tok, nil); r.status != 200 {
			t.Fatalf("force-disconnect: %d %s", r.status, r.raw)
		}
		if code := c.closeCode(); code != websocket.StatusNormalClosure {
			t.Fatalf("force-disconnect closed with %d, want 1000", code)
		}
		if r := h.do("POST", "/api/dev/room/devroom/force-disconnect", h.grant(), nil); r.errName() != "ClientNotFoundInRoomException" {
			t.Fatalf("force-disconnect with no socket: %s", r.raw)
		}
	})

	t.Run("seed-prev-queue", func(t *testing.T) {
		h.createRoom(tok, "seeded", map[string]any{"isTemporary": false})
		room, err := h.watch.Get(t.Context(), "seeded")
		if err != nil {
			t.Fatal(err)
		}
		h.watch.Unload(room, "unloaded")
		if r := h.do("POST", "/api/dev/room/seeded/seed-prev-queue", tok, map[string]any{"count": 3}); r.body["success"] != true {
			t.Fatalf("seed: %s", r.raw)
		}
		c := h.dial("seeded")
		c.send(map[string]any{"action": "auth", "token": tok})
		s := c.until("sync", has("prevQueue"))
		prev, _ := s["prevQueue"].([]any)
		if len(prev) != 3 || prev[2].(map[string]any)["id"] != "fake-video-2" {
			t.Fatalf("prevQueue after seeding: %v", s["prevQueue"])
		}
		if r := h.do("POST", "/api/dev/room/nosuchroom/seed-prev-queue", tok, map[string]any{"count": 1}); r.status != 200 || r.body["success"] != false {
			t.Fatalf("seed a missing room: %d %s", r.status, r.raw)
		}
		if r := h.do("POST", "/api/dev/room/seeded/seed-prev-queue", tok, map[string]any{"count": -1}); r.status != 400 {
			t.Fatalf("negative count: %d %s", r.status, r.raw)
		}
	})

	t.Run("reset-rate-limit", func(t *testing.T) {
		limited := false
		for range 30 { // 50 points each of 1000
			if r := h.do("POST", "/api/room/generate", tok, nil); r.status == 429 {
				limited = true
				break
			}
		}
		if !limited {
			t.Fatal("never rate limited")
		}
		if r := h.do("POST", "/api/dev/reset-rate-limit", tok, nil); r.status != 200 {
			t.Fatalf("reset: %d %s", r.status, r.raw)
		}
		if r := h.do("POST", "/api/room/generate", tok, nil); r.status != 201 {
			t.Fatalf("after reset: %d %s", r.status, r.raw)
		}
		if r := h.do("POST", "/api/dev/reset-rate-limit/user", tok, nil); r.status != 200 {
			t.Fatalf("reset login limiter: %d %s", r.status, r.raw)
		}
	})
}
