package ott_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/openapitest"
	"github.com/hearth-community/hearth/internal/watch"
)

// expect sends a request through the harness (whose client validates it)
// and checks the status. A request expected to fail is not itself
// validated, only its answer.
func expect(t *testing.T, h *harness, want int, method, path, token string, body any, hdr ...string) resp {
	t.Helper()
	if want >= 400 {
		hdr = append(hdr, openapitest.SkipRequestHeader, "1")
	}
	r := h.do(method, path, token, body, hdr...)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d (%s)", method, path, r.status, want, r.raw)
	}
	return r
}

// TestOpenAPIResponses walks tokens, users, rooms, the queue, votes over a
// connected socket, settings, claims, announcements, previews and the
// development routes with a client that validates every request and
// response against api/ott.yaml.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	doc := openapitest.Load(t, "ott.yaml")
	h := newHarness(t, opts{dev: true})
	tr := openapitest.NewTransport(t, doc, nil)
	h.client = &http.Client{Transport: tr, Timeout: 20 * time.Second}
	key := []string{"apikey", testAPIKey}

	tok := h.grant()
	expect(t, h, 200, "GET", "/api/auth/grant", tok, nil)
	expect(t, h, 400, "GET", "/api/user", "", nil)
	expect(t, h, 401, "GET", "/api/user", "not-a-token", nil)
	expect(t, h, 200, "GET", "/api/user", tok, nil)
	expect(t, h, 200, "POST", "/api/user", tok, map[string]any{"username": "quokka fan"})
	expect(t, h, 401, "GET", "/api/user/account", tok, nil)
	expect(t, h, 201, "POST", "/api/user/register", tok, map[string]any{"username": "ann", "email": "ann@example.org", "password": "Password123"})
	expect(t, h, 200, "GET", "/api/user", tok, nil)
	expect(t, h, 200, "GET", "/api/user/account", tok, nil)
	expect(t, h, 200, "PATCH", "/api/user/account", tok, map[string]any{"email": "ann2@example.org"})
	expect(t, h, 400, "POST", "/api/user/register", h.grant(), map[string]any{"username": "ann", "password": "Password123"})
	expect(t, h, 400, "POST", "/api/user/recover/start", tok, map[string]any{"email": "ann2@example.org"})
	expect(t, h, 400, "POST", "/api/user/recover/verify", tok, map[string]any{"verifyKey": "x", "newPassword": "Password456"})
	expect(t, h, 400, "DELETE", "/api/user/account/discord", tok, nil)

	expect(t, h, 201, "POST", "/api/room/create", tok, map[string]any{"name": "filmnight", "title": "Film night", "isTemporary": false, "visibility": "public", "queueMode": "vote"})
	expect(t, h, 400, "POST", "/api/room/create", tok, map[string]any{"name": "filmnight"})
	gen := expect(t, h, 201, "POST", "/api/room/generate", tok, map[string]any{})
	expect(t, h, 200, "GET", "/api/room/"+gen.body["room"].(string), tok, nil)
	expect(t, h, 200, "GET", "/api/user/owned-rooms", tok, nil)
	expect(t, h, 200, "GET", "/api/room/list", tok, nil)
	expect(t, h, 200, "GET", "/api/room/list", tok, nil, key...)
	expect(t, h, 400, "GET", "/api/room/list", tok, nil, "apikey", "wrong")
	expect(t, h, 404, "GET", "/api/room/nosuchroom", tok, nil)
	expect(t, h, 200, "PATCH", "/api/room/filmnight", tok, map[string]any{"title": "Film night!", "description": "Quokka documentaries",
		"enableVoteSkip": true, "restoreQueueBehavior": 2, "autoSkipSegmentCategories": []string{"sponsor"}})
	expect(t, h, 400, "PATCH", "/api/room/filmnight", tok, map[string]any{"claim": true})

	clip1, clip2 := map[string]any{"service": "direct", "id": h.fixture("clip1.mp4")}, map[string]any{"service": "direct", "id": h.fixture("clip2.mp4")}
	expect(t, h, 200, "POST", "/api/room/filmnight/queue", tok, clip1)
	expect(t, h, 200, "POST", "/api/room/filmnight/queue", tok, map[string]any{"videos": []any{clip2}})
	expect(t, h, 200, "POST", "/api/room/filmnight/queue", tok, map[string]any{"url": h.fixture("clip3.mp4")})
	expect(t, h, 400, "POST", "/api/room/filmnight/queue", tok, clip1)
	expect(t, h, 200, "PATCH", "/api/room/filmnight/queue", tok, map[string]any{"service": "direct", "id": h.fixture("clip2.mp4"), "subtitleUrl": h.fixture("subs.vtt")})
	expect(t, h, 400, "POST", "/api/room/filmnight/vote", tok, clip2)
	ws, _ := h.join("filmnight", tok)
	expect(t, h, 200, "POST", "/api/room/filmnight/vote", tok, clip2)
	expect(t, h, 200, "DELETE", "/api/room/filmnight/vote", tok, clip2)
	ws.req(watch.ReqSkip, nil)
	skip := ws.until("event", func(m map[string]any) bool { return m["request"].(map[string]any)["type"] == float64(watch.ReqSkip) })
	expect(t, h, 200, "POST", "/api/room/filmnight/undo", tok, map[string]any{"data": map[string]any{"event": skip}})
	expect(t, h, 200, "GET", "/api/room/filmnight", tok, nil)
	expect(t, h, 200, "DELETE", "/api/room/filmnight/queue", tok, clip2)
	expect(t, h, 400, "DELETE", "/api/room/filmnight/queue", tok, clip2)
	expect(t, h, 200, "POST", "/api/announce", tok, map[string]any{"text": "Maintenance at noon"}, key...)
	expect(t, h, 400, "POST", "/api/announce", tok, map[string]any{"text": "no key"})
	expect(t, h, 400, "POST", "/api/room/create", tok, map[string]any{"name": "ab"})
	expect(t, h, 200, "GET", "/api/data/previewAdd?input="+h.fixture("clip4.mp4"), "", nil)
	expect(t, h, 400, "GET", "/api/data/previewAdd", "", nil)

	guest := h.grant()
	expect(t, h, 201, "POST", "/api/room/create", guest, map[string]any{"name": "unowned", "isTemporary": false})
	expect(t, h, 401, "PATCH", "/api/room/unowned", guest, map[string]any{"claim": true})
	expect(t, h, 200, "PATCH", "/api/room/unowned", tok, map[string]any{"claim": true})
	expect(t, h, 200, "DELETE", "/api/room/unowned?permanent=true", tok, nil)
	expect(t, h, 200, "DELETE", "/api/room/filmnight", tok, nil, key...)

	expect(t, h, 200, "POST", "/api/dev/reset-rate-limit", tok, nil)
	expect(t, h, 200, "POST", "/api/dev/reset-rate-limit/user", tok, nil)
	expect(t, h, 201, "POST", "/api/room/create", tok, map[string]any{"name": "devroom"})
	expect(t, h, 200, "POST", "/api/dev/room/devroom/add-fake-user", tok, map[string]any{"register": true})
	expect(t, h, 200, "POST", "/api/dev/room/devroom/seed-prev-queue", tok, map[string]any{"count": 2})
	h.join("devroom", tok)
	expect(t, h, 200, "POST", "/api/dev/room/devroom/force-disconnect", tok, nil)
	expect(t, h, 200, "POST", "/api/dev/user/create-social", tok, map[string]any{"username": "social", "discordId": "1234"})
	expect(t, h, 200, "POST", "/api/dev/user/set-discord-link", tok, map[string]any{"username": "social", "discordId": "5678"})
	expect(t, h, 400, "GET", "/api/auth/discord?redirect=/", tok, nil)
	expect(t, h, 400, "GET", "/api/auth/discord/callback?code=x&state=y", tok, nil)
	expect(t, h, 200, "POST", "/api/dev/user/force-login", tok, map[string]any{"username": "social"})
	expect(t, h, 200, "POST", "/api/dev/set-admin-api-key", tok, map[string]any{"newkey": testAPIKey + "-2"})
	expect(t, h, 200, "POST", "/api/user/logout", tok, nil)
	expect(t, h, 401, "POST", "/api/user/login", tok, map[string]any{"user": "ann", "password": "wrong-password"})
	expect(t, h, 200, "POST", "/api/user/login", tok, map[string]any{"user": "ann", "password": "Password123"})
	// Every operation is exercised but those the harness wires with a
	// stand-in (x-hearth-needs: the metrics handler).
	for _, op := range tr.Unvisited(doc) {
		method, path, _ := strings.Cut(op, " ")
		if doc.Paths.Value(path).GetOperation(method).Extensions["x-hearth-needs"] == nil {
			t.Errorf("the flow does not reach %s of the spec (extend it)", op)
		}
	}
}

// TestOpenAPIRoutes: the routes in the package's source (the surface
// registers on a shared server that keeps no route list) and the
// operations in api/ott.yaml are the same, and each operation is routed by
// the running server (the mux lists its method in the Allow header of a
// 405 to a method nobody registers).
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	doc := openapitest.Load(t, "ott.yaml")
	routes := openapitest.SourceRoutes(t, nil)
	if len(routes) < 30 {
		t.Fatalf("found only %d routes in the source: the scan is broken", len(routes))
	}
	spec := openapitest.Operations(doc)
	notInSpec, notServed := openapitest.Diff(routes, spec)
	for _, r := range notInSpec {
		t.Errorf("route %s is registered but not in api/ott.yaml", r)
	}
	for _, r := range notServed {
		t.Errorf("api/ott.yaml has %s but the surface does not register it", r)
	}
	h := newHarness(t, opts{dev: true})
	for _, op := range spec {
		method, path, _ := strings.Cut(op, " ")
		req, err := http.NewRequest("PROPFIND", h.url+strings.ReplaceAll(path, "{}", "x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		served := false
		for _, m := range strings.Split(res.Header.Get("Allow"), ",") {
			served = served || strings.TrimSpace(m) == method
		}
		if !served {
			t.Errorf("%s is in api/ott.yaml but the server does not route %s", op, method)
		}
	}
}
