package together_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestLoginBruteForceLimited: wrong passwords on /auth/login (the web
// app's sign-in too) reach a 429 in Together's {"error": …} shape with
// Retry-After, and the right password is then refused while limited. The
// per-IP request limit of /auth/* is off here, so the 429 is identity's.
func TestLoginBruteForceLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	e.register("ann")
	post := func(password string) (int, map[string]any, http.Header) {
		b, _ := json.Marshal(map[string]string{"username": "ann", "password": password})
		res, err := http.Post(e.url+"/api/auth/login", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var obj map[string]any
		_ = json.Unmarshal(raw, &obj)
		return res.StatusCode, obj, res.Header
	}
	for i := range 50 {
		code, obj, h := post("wrong-password")
		if code == http.StatusUnauthorized {
			continue
		}
		if code != http.StatusTooManyRequests || i == 0 {
			t.Fatalf("try %d: %d %v", i, code, obj)
		}
		if msg, _ := obj["error"].(string); msg == "" || len(obj) != 1 {
			t.Fatalf("429 body %v", obj)
		}
		if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n < 1 {
			t.Fatalf("Retry-After %q", h.Get("Retry-After"))
		}
		if code, obj, _ := post("password123"); code != http.StatusTooManyRequests {
			t.Fatalf("right password while limited: %d %v", code, obj)
		}
		return
	}
	t.Fatal("50 wrong passwords and no 429")
}
