package ott_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

func TestTokenGrantAndMiddleware(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tests := []struct {
		name, method, path, token string
		status                    int
		errName                   string
	}{
		{"no token", "GET", "/api/room/list", "", 400, "MissingToken"},
		{"unknown token", "GET", "/api/room/list", "nope", 401, "MissingToken"},
		{"no token on user", "GET", "/api/user", "", 400, "MissingToken"},
		{"no token on announce", "POST", "/api/announce", "", 400, "MissingToken"},
	}
	for _, tc := range tests {
		r := h.do(tc.method, tc.path, tc.token, nil)
		if r.status != tc.status || r.errName() != tc.errName || r.body["success"] != false {
			t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
		}
	}
	r := h.do("GET", "/api/auth/grant", "", nil)
	tok, _ := r.body["token"].(string)
	if len(tok) != 684 || len(r.body) != 1 {
		t.Fatalf("grant body: %s", r.raw)
	}
	if c := r.header.Get("Set-Cookie"); !strings.HasPrefix(c, "token=") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
		t.Fatalf("cookie: %q", c)
	}
	if again := h.do("GET", "/api/auth/grant", tok, nil); again.body["token"] != tok {
		t.Fatal("a valid Bearer token is echoed")
	}
	if other := h.do("GET", "/api/auth/grant", "stale", nil); other.body["token"] == tok || other.body["token"] == "stale" {
		t.Fatal("an unknown token gets a new one")
	}
	u := h.do("GET", "/api/user", tok, nil)
	name, _ := u.body["username"].(string)
	if u.status != 200 || u.body["loggedIn"] != false || len(u.body) != 2 || strings.Count(name, "_") != 2 {
		t.Fatalf("anonymous user: %s", u.raw)
	}
	// The token cookie works instead of the header.
	if r := h.do("GET", "/api/user", "", nil, "Cookie", "token="+tok); r.status != 200 {
		t.Fatalf("cookie auth: %d", r.status)
	}
}

func TestAccountsAreHearthAccounts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	if r := h.do("POST", "/api/user/register", tok, map[string]any{"username": "alice", "password": "short"}); r.status != 400 || r.errName() != "ValidationError" {
		t.Fatalf("weak password: %d %s", r.status, r.raw)
	}
	r := h.do("POST", "/api/user/register", tok, map[string]any{"username": "alice", "email": "a@example.org", "password": "Passw0rdLong"})
	if r.status != 201 || r.body["success"] != true {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	if r := h.do("POST", "/api/user/register", h.grant(), map[string]any{"username": "ALICE", "password": "Passw0rdLong"}); r.status != 400 || r.errName() != "AlreadyInUse" {
		t.Fatalf("taken: %d %s", r.status, r.raw)
	}
	if u := h.do("GET", "/api/user", tok, nil); u.body["loggedIn"] != true || u.body["username"] != "alice" || u.body["discordLinked"] != false {
		t.Fatalf("logged in user: %s", u.raw)
	}
	// The same credentials work for every surface: it is one Hearth account.
	if _, err := h.id.CheckCredentials(context.Background(), "alice", "Passw0rdLong", ""); err != nil {
		t.Fatalf("hearth account: %v", err)
	}
	if r := h.do("GET", "/api/user/account", tok, nil); r.body["email"] != "a@example.org" || r.body["hasPassword"] != true {
		t.Fatalf("account: %s", r.raw)
	}
	if r := h.do("POST", "/api/user/logout", tok, nil); r.status != 200 {
		t.Fatalf("logout: %s", r.raw)
	}
	if r := h.do("POST", "/api/user/logout", tok, nil); r.status != 400 {
		t.Fatalf("logout twice: %d", r.status)
	}
	if r := h.do("GET", "/api/user/account", tok, nil); r.status != 401 || r.errName() != "Unauthorized" {
		t.Fatalf("account when anonymous: %d %s", r.status, r.raw)
	}
	if r := h.do("POST", "/api/user/login", tok, map[string]any{"user": "alice", "password": "wrong"}); r.status != 401 {
		t.Fatalf("bad login: %d", r.status)
	}
	r = h.do("POST", "/api/user/login", tok, map[string]any{"user": "a@example.org", "password": "Passw0rdLong"})
	if r.status != 200 || r.body["user"].(map[string]any)["username"] != "alice" {
		t.Fatalf("login by email: %d %s", r.status, r.raw)
	}
	if r := h.do("POST", "/api/user", tok, map[string]any{"username": strings.Repeat("x", 49)}); r.errName() != "LengthOutOfRangeException" {
		t.Fatalf("long name: %s", r.raw)
	}
}

func TestRoomsREST(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, opts{db: eng.Open})
			tok := h.grant()
			h.createRoom(tok, "FilmNight", map[string]any{"title": "Films", "isTemporary": false})
			// OTT checks these bodies with zod schemas: every refused field
			// is a 400 ZodValidationError (its details name the field).
			tests := []struct {
				name    string
				body    map[string]any
				status  int
				errName string
				arg     string
			}{
				{"taken, any case", map[string]any{"name": "filmnight"}, 400, "RoomNameTakenException", ""},
				{"reserved", map[string]any{"name": "list"}, 400, "ZodValidationError", "name"},
				{"too short", map[string]any{"name": "ab"}, 400, "ZodValidationError", "name"},
				{"too long", map[string]any{"name": strings.Repeat("ab", 17)}, 400, "ZodValidationError", "name"},
				{"bad chars", map[string]any{"name": "a b c"}, 400, "ZodValidationError", "name"},
				{"bad char", map[string]any{"name": "abc<"}, 400, "ZodValidationError", "name"},
				{"missing name", map[string]any{}, 400, "ZodValidationError", "name"},
				{"bad visibility", map[string]any{"name": "vis-room", "visibility": "secret"}, 400, "ZodValidationError", "visibility"},
				{"long title", map[string]any{"name": "long-title", "title": strings.Repeat("a", 256)}, 400, "ZodValidationError", "title"},
				{"newline in title", map[string]any{"name": "nl-title", "title": "Title with\r\nnewline"}, 400, "ZodValidationError", "title"},
				{"bad category", map[string]any{"name": "cat-room", "autoSkipSegmentCategories": []string{"invalid"}}, 400, "ZodValidationError", "autoSkipSegmentCategories"},
				// A NUL is refused on both engines: PostgreSQL cannot store
				// one, and a room holding one could no longer be saved there.
				{"NUL in title", map[string]any{"name": "nul-title", "title": "a\x00b"}, 400, "ZodValidationError", "title"},
				{"NUL in description", map[string]any{"name": "nul-desc", "description": "a\x00b"}, 400, "ZodValidationError", "description"},
			}
			for _, tc := range tests {
				r := h.do("POST", "/api/room/create", tok, tc.body)
				if r.status != tc.status || r.errName() != tc.errName || (tc.arg != "" && zodPath(r) != tc.arg) {
					t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
				}
			}
			for _, body := range []map[string]any{
				{"description": "d\x00d"},
				{"title": strings.Repeat("a", 255)},
				{"title": "Title with\nnewline"},
				{"autoSkipSegmentCategories": []string{"invalid", "intro"}},
				{"visibility": "secret"},
				{"claim": "yes"},
			} {
				if r := h.do("PATCH", "/api/room/FilmNight", tok, body); r.status != 400 || r.errName() != "ZodValidationError" {
					t.Errorf("PATCH %v: %d %s", body, r.status, r.raw)
				}
			}
			if r := h.do("POST", "/api/room/generate", tok, map[string]any{"autoSkipSegmentCategories": []string{"bogus"}}); r.status != 400 || r.errName() != "ZodValidationError" {
				t.Errorf("generate with a bad category: %d %s", r.status, r.raw)
			}
			g := h.do("POST", "/api/room/generate", tok, map[string]any{"autoSkipSegmentCategories": []string{"intro"}})
			gen, _ := g.body["room"].(string)
			if g.status != 201 || len(gen) != 36 {
				t.Fatalf("generate: %d %s", g.status, g.raw)
			}
			// OTT's generated rooms are unlisted (the room default; only create
			// defaults to public) and take the categories the client sends.
			if gr := h.do("GET", "/api/room/"+gen, tok, nil); gr.body["visibility"] != "unlisted" || gr.body["isTemporary"] != true ||
				fmt.Sprint(gr.body["autoSkipSegmentCategories"]) != "[intro]" {
				t.Fatalf("generated room: %s", gr.raw)
			}
			if l := h.do("GET", "/api/room/list", tok, nil); strings.Contains(string(l.raw), gen) {
				t.Fatalf("generated room listed: %s", l.raw)
			}
			room := h.do("GET", "/api/room/filmnight", tok, nil)
			for _, k := range []string{"name", "title", "description", "isTemporary", "visibility", "queueMode", "users", "grants",
				"autoSkipSegmentCategories", "restoreQueueBehavior", "enableVoteSkip", "queue", "hasOwner"} {
				if _, ok := room.body[k]; !ok {
					t.Errorf("GET room lacks %q: %s", k, room.raw)
				}
			}
			if _, ok := room.body["success"]; ok || room.body["name"] != "FilmNight" || room.body["isTemporary"] != false || room.body["visibility"] != "public" {
				t.Fatalf("GET room: %s", room.raw)
			}
			if r := h.do("GET", "/api/room/nosuchroom", tok, nil); r.status != 404 || r.errName() != "RoomNotFoundException" || r.body["error"].(map[string]any)["message"] != "Room not found" {
				t.Fatalf("missing room: %d %s", r.status, r.raw)
			}
			if r := h.do("PATCH", "/api/room/filmnight", tok, map[string]any{"title": "New", "queueMode": "vote"}); r.status != 200 {
				t.Fatalf("patch: %d %s", r.status, r.raw)
			}
			if r := h.do("PATCH", "/api/room/filmnight", tok, map[string]any{"bogus": 1}); r.status != 400 || r.errName() != "ZodValidationError" {
				t.Fatalf("strict patch: %d %s", r.status, r.raw)
			}
			if r := h.do("PATCH", "/api/room/filmnight", tok, map[string]any{"grants": [][2]int{{3, 0}}}); r.errName() != "PermissionDeniedException" {
				t.Fatalf("grants for moderators need the permission: %s", r.raw)
			}
			if r := h.do("PATCH", "/api/room/filmnight", tok, map[string]any{"claim": true}); r.status != 401 {
				t.Fatalf("anonymous claim: %d %s", r.status, r.raw)
			}
			list := h.do("GET", "/api/room/list", tok, nil)
			if !strings.HasPrefix(string(list.raw), "[") || !strings.Contains(string(list.raw), `"title":"New"`) {
				t.Fatalf("list: %s", list.raw)
			}
			// OTT's token middleware refuses a wrong apikey before any route
			// with its plain exception: name "Error".
			for _, path := range []string{"/api/room/list", "/api/user", "/api/announce"} {
				method := "GET"
				if path == "/api/announce" {
					method = "POST"
				}
				if r := h.do(method, path, "", nil, "apikey", "wrong"); r.status != 400 ||
					string(r.raw) != `{"error":{"name":"Error","message":"apikey is invalid"},"success":false}`+"\n" {
					t.Fatalf("bad apikey on %s: %d %q", path, r.status, r.raw)
				}
			}
			// Queue over REST without a socket; vote needs one.
			if r := h.do("POST", "/api/room/filmnight/queue", tok, map[string]any{"service": "direct", "id": h.fixture("clip1.mp4")}); r.status != 200 {
				t.Fatalf("add: %d %s", r.status, r.raw)
			}
			if r := h.do("POST", "/api/room/filmnight/queue", tok, map[string]any{"service": "direct", "id": h.fixture("clip1.mp4")}); r.errName() != "VideoAlreadyQueuedException" {
				t.Fatalf("duplicate: %s", r.raw)
			}
			if r := h.do("POST", "/api/room/filmnight/queue", tok, map[string]any{"service": "direct", "id": h.fixture("notvideo.txt")}); r.status != 400 || r.errName() != "UnsupportedMimeTypeException" {
				t.Fatalf("not a video: %d %s", r.status, r.raw)
			}
			if r := h.do("POST", "/api/room/filmnight/vote", tok, map[string]any{"service": "direct", "id": h.fixture("clip1.mp4")}); r.errName() != "ClientNotFoundInRoomException" {
				t.Fatalf("vote without socket: %s", r.raw)
			}
			// Video bodies: service is one of OTT's services, id a string.
			for _, tc := range []struct {
				method, path string
				body         map[string]any
			}{
				{"POST", "/api/room/filmnight/vote", map[string]any{"service": "nosuch", "id": "x"}},
				{"DELETE", "/api/room/filmnight/vote", map[string]any{"id": "x"}},
				{"POST", "/api/room/filmnight/queue", map[string]any{"service": "nosuch", "id": "x"}},
				{"POST", "/api/room/filmnight/queue", map[string]any{"videos": []map[string]any{{"service": "direct"}}}},
				{"DELETE", "/api/room/filmnight/queue", map[string]any{"service": "direct"}},
				{"PATCH", "/api/room/filmnight/queue", map[string]any{"service": "direct", "id": "x", "subtitleUrl": 123}},
			} {
				if r := h.do(tc.method, tc.path, tok, tc.body); r.status != 400 || r.errName() != "ZodValidationError" {
					t.Errorf("%s %s %v: %d %s", tc.method, tc.path, tc.body, r.status, r.raw)
				}
			}
			if r := h.do("DELETE", "/api/room/filmnight/queue", tok, map[string]any{"service": "direct", "id": "nope"}); r.errName() != "VideoNotFoundException" {
				t.Fatalf("remove missing: %s", r.raw)
			}
			if r := h.do("DELETE", "/api/room/filmnight", tok, nil); r.status != 400 || r.errName() != "Unauthorized" {
				t.Fatalf("unload without key: %d %s", r.status, r.raw)
			}
			if r := h.do("DELETE", "/api/room/filmnight", tok, nil, "apikey", testAPIKey); r.status != 200 {
				t.Fatalf("admin unload: %d %s", r.status, r.raw)
			}
			// Permanent: it comes back from the database, queue kept aside.
			if r := h.do("GET", "/api/room/filmnight", tok, nil); r.status != 200 || r.body["title"] != "New" || r.body["queueMode"] != "vote" {
				t.Fatalf("reloaded: %d %s", r.status, r.raw)
			}
		})
	}
}

// zodPath is the field a ZodValidationError names.
func zodPath(r resp) string {
	e, _ := r.body["error"].(map[string]any)
	d, _ := e["details"].([]any)
	if len(d) == 0 {
		return ""
	}
	p, _ := d[0].(map[string]any)["path"].([]any)
	if len(p) == 0 {
		return ""
	}
	s, _ := p[0].(string)
	return s
}

func TestRateLimitReaches429(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{rateLimit: true})
	tok := h.grant()
	// Permanent rooms cost 200 points of the 1000-point hourly bucket.
	for i := 0; i < 5; i++ {
		r := h.do("POST", "/api/room/create", tok, map[string]any{"name": "perm-" + string(rune('a'+i)), "isTemporary": false})
		if r.status != 201 {
			t.Fatalf("create %d: %d %s", i, r.status, r.raw)
		}
		if r.header.Get("X-RateLimit-Limit") != "1000" || r.header.Get("X-RateLimit-Remaining") == "" ||
			!strings.Contains(r.header.Get("X-RateLimit-Reset"), "GMT") {
			t.Fatalf("headers: %v", r.header)
		}
	}
	r := h.do("POST", "/api/room/create", tok, map[string]any{"name": "perm-f", "isTemporary": false})
	if r.status != 429 || r.errName() != "TooManyRequests" || r.body["success"] != false || r.header.Get("Retry-After") == "" {
		t.Fatalf("429: %d %s %v", r.status, r.raw, r.header)
	}
	// Free routes still answer.
	if r := h.do("GET", "/api/room/list", tok, nil); r.status != 200 {
		t.Fatalf("free route: %d", r.status)
	}
}

// TestRateLimitCountsIPv6Prefix: OTT's per-address bucket counts an IPv6
// client by its /64, as the node's other per-address bounds do: a host
// holding a /64 (the usual assignment) used to get a fresh bucket from
// each of its addresses.
func TestRateLimitCountsIPv6Prefix(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{rateLimit: true, trustProxy: true})
	tok := h.grant()
	create := func(i int, from string) resp {
		return h.do("POST", "/api/room/create", tok, map[string]any{"name": fmt.Sprintf("perm-%d", i), "isTemporary": false},
			"X-Forwarded-For", from)
	}
	for i := range 5 { // 200 points each of the 1000-point bucket
		if r := create(i, fmt.Sprintf("2001:db8:9:9::%x", i+1)); r.status != 201 {
			t.Fatalf("create %d: %d %s", i, r.status, r.raw)
		}
	}
	if r := create(5, "2001:db8:9:9:ffff::1"); r.status != 429 {
		t.Fatalf("another address of the same /64: %d %s", r.status, r.raw)
	}
	if r := create(6, "2001:db8:9:a::1"); r.status != 201 {
		t.Fatalf("another /64: %d %s", r.status, r.raw)
	}
}

func TestPreviewAdd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	r := h.do("GET", "/api/data/previewAdd?input="+h.fixture("clip2.mp4"), "", nil)
	res, _ := r.body["result"].([]any)
	if r.status != 200 || len(res) != 1 || !strings.Contains(r.header.Get("Cache-Control"), "max-age=3600, immutable, stale-while-revalidate=86400") {
		t.Fatalf("preview: %d %s %v", r.status, r.raw, r.header)
	}
	v := res[0].(map[string]any)
	if v["service"] != "direct" || v["mime"] != "video/mp4" || v["length"].(float64) < 3.9 || v["length"].(float64) > 4.1 {
		t.Fatalf("video: %v", v)
	}
	tests := []struct {
		input, name string
	}{
		{"", "BadApiArgumentException"},
		{"https://example.com/page", "UnsupportedServiceException"},
		{"file:///etc/passwd", "LocalFileException"},
		{"some search", "FeatureDisabledException"},
		{"https://www.youtube.com/watch?v=dQw4w9WgXcQ", "FeatureDisabledException"},
		{"http://127.0.0.1:1/x.mp4", "UnsupportedServiceException"},
		{"ab", "InvalidAddPreviewInputException"},
	}
	for _, tc := range tests {
		r := h.do("GET", "/api/data/previewAdd?input="+urlQuery(tc.input), "", nil)
		if r.status != 400 || r.errName() != tc.name {
			t.Errorf("%q: %d %s", tc.input, r.status, r.raw)
		}
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer(" ", "+", "&", "%26", "?", "%3F", "=", "%3D").Replace(s)
}

// TestEmailKeptAsTyped: OTT returns an email as its owner typed it; Hearth
// keeps it so and still finds and refuses addresses ignoring case.
func TestEmailKeptAsTyped(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, opts{db: eng.Open})
			tok := h.grant()
			r := h.do("POST", "/api/user/register", tok, map[string]any{"username": "casey", "email": "Casey.Jones@Example.ORG", "password": "Passw0rdLong"})
			if r.status != 201 || r.body["user"].(map[string]any)["email"] != "Casey.Jones@Example.ORG" {
				t.Fatalf("register: %d %s", r.status, r.raw)
			}
			if r := h.do("GET", "/api/user/account", tok, nil); r.body["email"] != "Casey.Jones@Example.ORG" {
				t.Fatalf("account: %s", r.raw)
			}
			if r := h.do("POST", "/api/user/login", h.grant(), map[string]any{"user": "casey.jones@example.org", "password": "Passw0rdLong"}); r.status != 200 ||
				r.body["user"].(map[string]any)["email"] != "Casey.Jones@Example.ORG" {
				t.Fatalf("login by email in another case: %d %s", r.status, r.raw)
			}
			if r := h.do("POST", "/api/user/register", h.grant(), map[string]any{"username": "other", "email": "CASEY.JONES@example.org", "password": "Passw0rdLong"}); r.errName() != "AlreadyInUse" {
				t.Fatalf("same address in another case: %s", r.raw)
			}
			if r := h.do("PATCH", "/api/user/account", tok, map[string]any{"email": "New.Address@Example.org"}); r.status != 200 {
				t.Fatalf("patch: %d %s", r.status, r.raw)
			}
			if r := h.do("GET", "/api/user/account", tok, nil); r.body["email"] != "New.Address@Example.org" {
				t.Fatalf("account after patch: %s", r.raw)
			}
		})
	}
}

// TestOttUserFacingTexts: the error texts OTT's client shows and its tests
// expect, word for word.
func TestOttUserFacingTexts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	if r := h.do("POST", "/api/user/register", tok, map[string]any{"username": "texts", "email": "t@example.org", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	other := h.grant()
	if r := h.do("POST", "/api/user/register", other, map[string]any{"username": "texts2", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	const badPassword = "Password does not meet minimum requirements. Must be at least 8 characters long, and contain 2 of the following categories of characters: lowercase letters, uppercase letters, numbers, special characters."
	tests := []struct {
		name, method, path, token string
		body                      map[string]any
		status                    int
		errName, message          string
	}{
		{"register, email taken", "POST", "/api/user/register", h.grant(), map[string]any{"username": "x1", "email": "T@example.org", "password": "Passw0rdLong"},
			400, "AlreadyInUse", "Email is already associated with an account."},
		{"register, weak password", "POST", "/api/user/register", h.grant(), map[string]any{"username": "x2", "password": "short"},
			400, "ValidationError", badPassword},
		{"patch, email taken", "PATCH", "/api/user/account", other, map[string]any{"email": "t@example.org"},
			400, "AlreadyInUse", "Email is already associated with an account."},
		{"patch, weak password", "PATCH", "/api/user/account", other, map[string]any{"newPassword": "short", "currentPassword": "Passw0rdLong"},
			400, "BadPasswordError", badPassword},
		{"patch, nothing", "PATCH", "/api/user/account", other, map[string]any{}, 400, "ValidationError", "At least one field must be provided"},
		{"patch, bad email", "PATCH", "/api/user/account", other, map[string]any{"email": "nope"}, 400, "ValidationError", "Invalid email"},
		{"login, no password", "POST", "/api/user/login", h.grant(), map[string]any{"user": "texts"}, 401, "", "Either the user or password was not provided."},
		{"rename, no name", "POST", "/api/user", other, map[string]any{}, 400, "", "Missing argument (username)"},
		{"rename, too long", "POST", "/api/user", other, map[string]any{"username": strings.Repeat("x", 49)}, 400, "LengthOutOfRangeException", "Username length must be less than or equal to 48"},
		{"rename, taken", "POST", "/api/user", other, map[string]any{"username": "texts"}, 400, "UsernameTaken", "Somebody else is already using that username."},
		{"login, wrong password", "POST", "/api/user/login", h.grant(), map[string]any{"user": "texts", "password": "Wrong1234"}, 401, "", "Email or password is incorrect."},
	}
	for _, tc := range tests {
		r := h.do(tc.method, tc.path, tc.token, tc.body)
		e, _ := r.body["error"].(map[string]any)
		if r.status != tc.status || r.errName() != tc.errName || e["message"] != tc.message {
			t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
		}
	}
}

// TestOttRenameToAnAccountsName: an account's display name (any case) is
// its own on every surface: a guest session cannot take it through
// POST /api/user, and neither can another account.
func TestOttRenameToAnAccountsName(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	if r := h.do("POST", "/api/user/register", tok, map[string]any{"username": "owner1", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	if r := h.do("POST", "/api/user", tok, map[string]any{"username": "The Owner"}); r.status != 200 {
		t.Fatalf("rename own account: %d %s", r.status, r.raw)
	}
	for _, name := range []string{"the owner", "THE OWNER", "Owner1"} {
		r := h.do("POST", "/api/user", h.grant(), map[string]any{"username": name})
		if r.status != 400 || !strings.Contains(string(r.raw), "UsernameTaken") {
			t.Fatalf("guest rename to %q: %d %s, want 400 UsernameTaken", name, r.status, r.raw)
		}
	}
	if r := h.do("POST", "/api/user", h.grant(), map[string]any{"username": "Somebody New"}); r.status != 200 {
		t.Fatalf("guest rename to a free name: %d %s", r.status, r.raw)
	}
}

// TestAnnounceAnswers: OTT's POST /api/announce answers, word for word.
func TestAnnounceAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	tests := []struct {
		name   string
		hdr    []string
		body   map[string]any
		status int
		raw    string
	}{
		{"sent", []string{"apikey", testAPIKey}, map[string]any{"text": "test announcement"}, 200, `{"success":true}`},
		{"no apikey", nil, map[string]any{"text": "x"}, 400, `{"error":{"name":"MissingApiKey","message":"apikey was not supplied"},"success":false}`},
		{"wrong apikey", []string{"apikey", "wrong key"}, map[string]any{"text": "x"}, 400, `{"error":{"name":"Error","message":"apikey is invalid"},"success":false}`},
	}
	for _, tc := range tests {
		r := h.do("POST", "/api/announce", tok, tc.body, tc.hdr...)
		if r.status != tc.status || strings.TrimSpace(string(r.raw)) != tc.raw {
			t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
		}
	}
	r := h.do("POST", "/api/announce", tok, map[string]any{}, "apikey", testAPIKey)
	if e, _ := r.body["error"].(map[string]any); r.status != 400 || r.errName() != "BadApiArgumentException" || e["arg"] != "text" || e["reason"] != "missing" {
		t.Errorf("no text: %d %s", r.status, r.raw)
	}
	// A publish that fails (the bus is gone) is OTT's own 500.
	_ = h.bus.Close()
	r = h.do("POST", "/api/announce", tok, map[string]any{"text": "x"}, "apikey", testAPIKey)
	if r.status != 500 || strings.TrimSpace(string(r.raw)) != `{"error":{"name":"Unknown","message":"Unknown, check logs"},"success":false}` {
		t.Errorf("publish fails: %d %s", r.status, r.raw)
	}
}

// TestRefusedRequestsCostNoPoints: as OTT's handlers do, the room routes
// check their body's schema, and the account routes the sign-in, before
// taking rate-limit points, so a refused request costs nothing: with the
// bucket empty they still answer their 400 or 401, never 429, and an
// accepted one is refused with the 429. The limiter's clock stands still.
func TestRefusedRequestsCostNoPoints(t *testing.T) {
	t.Parallel()
	now := time.Now()
	h := newHarness(t, opts{rateLimit: true, now: func() time.Time { return now }})
	tok := h.grant()
	for i := range 5 { // 5 × 200 points: the bucket is empty
		if r := h.do("POST", "/api/room/create", tok, map[string]any{"name": fmt.Sprintf("perm-%d", i), "isTemporary": false}); r.status != 201 {
			t.Fatalf("create %d: %d %s", i, r.status, r.raw)
		}
	}
	for _, tc := range []struct {
		method, path string
		body         map[string]any
		status       int
		name         string
	}{
		{"POST", "/api/room/create", map[string]any{"name": "ab"}, 400, "ZodValidationError"},
		{"POST", "/api/room/create", map[string]any{"name": "fine-name", "title": "a\nb"}, 400, "ZodValidationError"},
		{"POST", "/api/room/generate", map[string]any{"autoSkipSegmentCategories": []string{"bogus"}}, 400, "ZodValidationError"},
		{"POST", "/api/room/perm-0/queue", map[string]any{"service": "nosuch", "id": "x"}, 400, "ZodValidationError"},
		{"PATCH", "/api/room/perm-0/queue", map[string]any{"service": "direct", "id": "x", "subtitleUrl": 123}, 400, "ZodValidationError"},
		{"DELETE", "/api/room/perm-0/queue", map[string]any{"service": "direct"}, 400, "ZodValidationError"},
		{"GET", "/api/user/account", nil, 401, "Unauthorized"},
		{"PATCH", "/api/user/account", map[string]any{"email": "a@example.org"}, 401, "Unauthorized"},
		{"DELETE", "/api/user/account/discord", nil, 401, "Unauthorized"},
		// Accepted requests find the bucket empty.
		{"DELETE", "/api/room/perm-0/queue", map[string]any{"service": "direct", "id": "x"}, 429, "TooManyRequests"},
		{"PATCH", "/api/room/perm-0/queue", map[string]any{"service": "direct", "id": "x"}, 429, "TooManyRequests"},
		{"POST", "/api/room/create", map[string]any{"name": "fine-name"}, 429, "TooManyRequests"},
	} {
		if r := h.do(tc.method, tc.path, tok, tc.body); r.status != tc.status || r.errName() != tc.name {
			t.Errorf("%s %s %v: %d %s, want %d %s", tc.method, tc.path, tc.body, r.status, r.raw, tc.status, tc.name)
		}
	}
	// With temporary rooms off, generate is refused before any points are
	// taken (OTT checks the feature first).
	off := newHarness(t, opts{rateLimit: true, noTemp: true, now: func() time.Time { return now }})
	otok := off.grant()
	for i := range 21 { // 21 × 50 points: past the bucket if generate were charged
		if r := off.do("POST", "/api/room/generate", otok, nil); r.status != 403 || r.errName() != "FeatureDisabledException" {
			t.Fatalf("generate %d with temporary rooms off: %d %s", i, r.status, r.raw)
		}
	}
	for i := range 5 {
		if r := off.do("POST", "/api/room/create", otok, map[string]any{"name": fmt.Sprintf("off-%d", i), "isTemporary": false}); r.status != 201 {
			t.Fatalf("create %d after refused generates: %d %s", i, r.status, r.raw)
		}
	}
}

// TestQueueBodiesAsOTT: POST /api/room/:name/queue reads its body as OTT's
// schema does, a union tried in order (a list, one video, a link), so an
// empty list is accepted and answered VideoAlreadyQueued (nothing added),
// and a body with both a video and a url adds the video; a subtitleUrl must
// be a URL (ZodValidationError otherwise), on add and on PATCH.
func TestQueueBodiesAsOTT(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	h.createRoom(tok, "bodies", nil)
	r := h.do("POST", "/api/room/bodies/queue", tok, map[string]any{"videos": []any{}})
	if e, _ := r.body["error"].(map[string]any); r.status != 400 || r.errName() != "VideoAlreadyQueuedException" || e["message"] != "Video(s) are already in the queue" {
		t.Fatalf("empty list: %d %s", r.status, r.raw)
	}
	// The first video added plays; the next waits in the queue.
	if r := h.do("POST", "/api/room/bodies/queue", tok, map[string]any{"service": "direct", "id": h.fixture("clip2.mp4")}); r.status != 200 {
		t.Fatalf("add: %d %s", r.status, r.raw)
	}
	clip := h.fixture("clip3.mp4")
	if r := h.do("POST", "/api/room/bodies/queue", tok, map[string]any{"service": "direct", "id": clip, "url": "https://example.invalid/other.mp4"}); r.status != 200 {
		t.Fatalf("video and url: %d %s", r.status, r.raw)
	}
	room := h.do("GET", "/api/room/bodies", tok, nil)
	if q, _ := room.body["queue"].([]any); len(q) != 1 || q[0].(map[string]any)["id"] != clip {
		t.Fatalf("video and url added %s, want the video", room.raw)
	}
	for _, tc := range []struct {
		method string
		body   map[string]any
	}{
		{"POST", map[string]any{"service": "direct", "id": h.fixture("clip4.mp4"), "subtitleUrl": "subs.vtt"}},
		{"POST", map[string]any{"videos": []map[string]any{{"service": "direct", "id": h.fixture("clip4.mp4"), "subtitleUrl": "subs.vtt"}}}},
		{"PATCH", map[string]any{"service": "direct", "id": clip, "subtitleUrl": "subs.vtt"}},
		{"PATCH", map[string]any{"service": "direct", "id": clip, "subtitleUrl": ""}},
	} {
		if r := h.do(tc.method, "/api/room/bodies/queue", tok, tc.body); r.status != 400 || r.errName() != "ZodValidationError" {
			t.Errorf("%s %v: %d %s", tc.method, tc.body, r.status, r.raw)
		}
	}
	if r := h.do("PATCH", "/api/room/bodies/queue", tok, map[string]any{"service": "direct", "id": clip, "subtitleUrl": "https://example.org/subs.vtt"}); r.status != 200 {
		t.Fatalf("PATCH with a subtitle: %d %s", r.status, r.raw)
	}
}

// TestPatchRoomBodyFirst: PATCH /api/room/:name checks its body before the
// room, as OTT parses its schema first (a bad body is a ZodValidationError
// even for a room that does not exist), and reads it as OTT's union: strict
// settings, else {claim: boolean}, other keys beside a claim ignored.
func TestPatchRoomBodyFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	h.createRoom(tok, "patchme", nil)
	for _, body := range []map[string]any{
		{"title": "a\nb"},
		{"title": strings.Repeat("a", 255)},
		{"autoSkipSegmentCategories": []string{"bogus"}},
		{"queueMode": "bogus"},
		{"restoreQueueBehavior": 7},
		{"claim": nil},
		{"claim": "yes"},
	} {
		for _, room := range []string{"patchme", "nosuchroom"} {
			if r := h.do("PATCH", "/api/room/"+room, tok, body); r.status != 400 || r.errName() != "ZodValidationError" {
				t.Errorf("PATCH %s %v: %d %s, want 400 ZodValidationError", room, body, r.status, r.raw)
			}
		}
	}
	if r := h.do("PATCH", "/api/room/nosuchroom", tok, map[string]any{"title": "fine"}); r.status != 404 || r.errName() != "RoomNotFoundException" {
		t.Errorf("PATCH a missing room: %d %s", r.status, r.raw)
	}
	// A claim beside other keys is a claim (a guest's: 401).
	if r := h.do("PATCH", "/api/room/patchme", tok, map[string]any{"claim": true, "title": "ignored"}); r.status != 401 {
		t.Errorf("claim with a title: %d %s, want 401", r.status, r.raw)
	}
	if r := h.do("GET", "/api/room/patchme", tok, nil); r.body["title"] != "" {
		t.Errorf("the title beside a claim was applied: %s", r.raw)
	}
}

// TestTypeErrorsNameTheField: a JSON value of the wrong type is worded as
// OTT's zod schemas word it, at the field it is in (it was a Go decoder
// message at "settings", or no field at all), and an unknown settings key
// names the key.
func TestTypeErrorsNameTheField(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	for _, tc := range []struct {
		method, path string
		body         map[string]any
		field, msg   string
	}{
		{"PATCH", "/api/room/nosuchroom", map[string]any{"title": 5}, "title", "Expected string, received number"},
		{"PATCH", "/api/room/nosuchroom", map[string]any{"enableVoteSkip": "yes"}, "enableVoteSkip", "Expected boolean, received string"},
		{"PATCH", "/api/room/nosuchroom", map[string]any{"autoSkipSegmentCategories": "intro"}, "autoSkipSegmentCategories", "Expected array, received string"},
		{"PATCH", "/api/room/nosuchroom", map[string]any{"bogus": 1}, "", "Unrecognized key(s) in object: 'bogus'"},
		{"POST", "/api/room/create", map[string]any{"name": 5}, "name", "Expected string, received number"},
		{"POST", "/api/room/create", map[string]any{"name": "typed-room", "isTemporary": "no"}, "isTemporary", "Expected boolean, received string"},
	} {
		r := h.do(tc.method, tc.path, tok, tc.body)
		want := "Validation error: " + tc.msg
		if tc.field != "" {
			want += ` at "` + tc.field + `"`
		}
		e, _ := r.body["error"].(map[string]any)
		if r.status != 400 || r.errName() != "ZodValidationError" || e["message"] != want || zodPath(r) != tc.field {
			t.Errorf("%s %s %v: %d %s, want 400 %q at %q", tc.method, tc.path, tc.body, r.status, r.raw, want, tc.field)
		}
	}
}

// TestTitleRefusalsWordedAsOTT: a title over its bound or with a newline
// is refused in the words of OTT's schemas, which its client shows as they
// are (the create form's error line, the settings form's toast): the create
// schema's own "too long, must be at most 255 characters", zod's default
// for the settings schema's max(254), and "title must not contain
// newlines" on both. Hearth said "too long" and "must not contain newlines".
func TestTitleRefusalsWordedAsOTT(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	h.createRoom(tok, "titles", map[string]any{"isTemporary": true})
	msg := func(r resp) string {
		e, _ := r.body["error"].(map[string]any)
		m, _ := e["message"].(string)
		return m
	}
	for _, tc := range []struct {
		method, path string
		body         map[string]any
		want         string
	}{
		{"POST", "/api/room/create", map[string]any{"name": "long-title", "title": strings.Repeat("a", 256)},
			`Validation error: too long, must be at most 255 characters at "title"`},
		{"POST", "/api/room/create", map[string]any{"name": "nl-title", "title": "a\nb"},
			`Validation error: title must not contain newlines at "title"`},
		{"PATCH", "/api/room/titles", map[string]any{"title": strings.Repeat("a", 255)},
			`Validation error: String must contain at most 254 character(s) at "title"`},
		{"PATCH", "/api/room/titles", map[string]any{"title": "a\rb"},
			`Validation error: title must not contain newlines at "title"`},
	} {
		r := h.do(tc.method, tc.path, tok, tc.body)
		if r.status != 400 || r.errName() != "ZodValidationError" || msg(r) != tc.want {
			t.Errorf("%s %s: %d %s, want 400 %q", tc.method, tc.path, r.status, r.raw, tc.want)
		}
	}
}
