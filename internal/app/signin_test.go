package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
)

// TestSignInLimitIsShared: one account signs in on every surface, so the
// sign-in limit is one limit. Wrong passwords for the admin account spread
// over Together's login, OTT's login, Owncast's admin Basic auth and the
// web app's admin UI run out one budget; then the right password is
// refused on all four, each in its own 429 shape with Retry-After.
func TestSignInLimitIsShared(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	var ottToken struct {
		Token string `json:"token"`
	}
	res, err := http.Get(base + "/api/auth/grant")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(res.Body).Decode(&ottToken)
	res.Body.Close()
	if ottToken.Token == "" {
		t.Fatal("no OTT token")
	}
	type reply struct {
		status int
		header http.Header
		body   []byte
	}
	send := func(method, path string, body any, hdr ...string) reply {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return reply{res.StatusCode, res.Header, b}
	}
	basic := func(pass string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth("admin", pass)
		return req.Header.Get("Authorization")
	}
	surfaces := []struct {
		name    string
		try     func(pass string) reply
		fail    int
		limited func(r reply) bool // the surface's own 429 shape
	}{
		{"together", func(p string) reply {
			return send("POST", "/api/auth/login", map[string]string{"username": "admin", "password": p})
		}, 401, func(r reply) bool {
			var b map[string]any
			return json.Unmarshal(r.body, &b) == nil && b["error"] != nil && len(b) == 1
		}},
		{"ott", func(p string) reply {
			return send("POST", "/api/user/login", map[string]string{"user": "admin", "password": p}, "Authorization", "Bearer "+ottToken.Token)
		}, 401, func(r reply) bool {
			var b struct {
				Error struct{ Name string } `json:"error"`
			}
			return json.Unmarshal(r.body, &b) == nil && b.Error.Name == "TooManyRequests"
		}},
		{"owncast", func(p string) reply {
			return send("GET", "/api/admin/serverconfig", nil, "Authorization", basic(p))
		}, 401, func(r reply) bool {
			var b struct {
				Success *bool `json:"success"`
			}
			return json.Unmarshal(r.body, &b) == nil && b.Success != nil && !*b.Success
		}},
		{"web admin UI", func(p string) reply {
			return send("GET", "/admin/", nil, "Authorization", basic(p))
		}, 401, func(r reply) bool {
			return r.header.Get("WWW-Authenticate") == "" && !bytes.Contains(r.body, []byte("<html"))
		}},
	}
	limitedAt := -1
	for i := 0; i < 50 && limitedAt < 0; i++ {
		s := surfaces[i%len(surfaces)]
		r := s.try("wrong-password")
		switch r.status {
		case s.fail:
		case http.StatusTooManyRequests:
			limitedAt = i
		default:
			t.Fatalf("%s try %d: %d %s", s.name, i, r.status, r.body)
		}
	}
	if limitedAt < len(surfaces) {
		t.Fatalf("limited after %d wrong passwords, want a limit reached across all surfaces", limitedAt)
	}
	for _, s := range surfaces {
		r := s.try("adminpassword")
		if r.status != http.StatusTooManyRequests || !s.limited(r) {
			t.Errorf("%s, right password while limited: %d %v %s", s.name, r.status, r.header, r.body)
		}
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("%s: Retry-After %q", s.name, r.header.Get("Retry-After"))
		}
	}
}
