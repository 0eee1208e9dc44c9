package ott_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
)

// hangUp sends one request on a connection of its own and closes the
// connection as soon as the request is written, without reading the
// answer: a browser that leaves the page right after a click (OTT's client
// saves a new password, then the user navigates away).
func (h *harness) hangUp(method, path, token string, body any) {
	h.t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(b))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		h.t.Fatal(err)
	}
	if err := req.Write(c); err != nil {
		h.t.Fatal(err)
	}
	c.Close()
}

// TestWriteOutlastsClientHangUp: a write the client hangs up on after
// sending it runs to its end, as on OpenTogetherTube (Express finishes a
// handler whatever the client does). It was cancelled with the client's
// connection: OTT's Playwright test "should let a local account change its
// password" saves a password and navigates at once, and the old password
// still signed in; a cancellation between the steps of a password change
// could also keep the password but leave the account's other sessions
// signed in.
func TestWriteOutlastsClientHangUp(t *testing.T) {
	t.Parallel()
	// The production cost: the client's hang-up lands while the current
	// password is checked, as it did in the browser.
	h := newHarness(t, opts{argon: &identity.DefaultArgon2})
	tok := h.grant()
	if r := h.do("POST", "/api/user/register", tok, map[string]any{"username": "leaver", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	other := h.grant()
	if r := h.do("POST", "/api/user/login", other, map[string]any{"user": "leaver", "password": "Passw0rdLong"}); r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	ctx := context.Background()
	before, err := h.id.Store().AccountByUsername(ctx, "leaver")
	if err != nil {
		t.Fatal(err)
	}

	h.hangUp("PATCH", "/api/user/account", tok, map[string]any{"currentPassword": "Passw0rdLong", "newPassword": "NewPassw0rd1"})

	// Polled without signing in: failed sign-ins would trip the limiter.
	deadline := time.Now().Add(hangGuard)
	for {
		a, err := h.id.Store().AccountByUsername(ctx, "leaver")
		if err != nil {
			t.Fatal(err)
		}
		if a.PasswordHash != before.PasswordHash && h.do("GET", "/api/user", other, nil).body["loggedIn"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the client hung up: password changed %v, other token %s", a.PasswordHash != before.PasswordHash, h.do("GET", "/api/user", other, nil).raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := h.do("POST", "/api/user/login", h.grant(), map[string]any{"user": "leaver", "password": "NewPassw0rd1"}); r.status != 200 {
		t.Fatalf("login with the new password: %d %s", r.status, r.raw)
	}
	if r := h.do("POST", "/api/user/login", h.grant(), map[string]any{"user": "leaver", "password": "Passw0rdLong"}); r.status == 200 {
		t.Fatal("the old password still signs in")
	}
	if r := h.do("GET", "/api/user", tok, nil); r.body["loggedIn"] != true {
		t.Fatalf("the token that changed the password was signed out: %s", r.raw)
	}
}
