package hearthapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/openapitest"
)

// TestJSONBodyTooLarge: a JSON body past the API's 64 KiB is refused with
// 413 and a message saying so, in the API's error shape, not with the
// decoder's "unexpected EOF" at the cut (400); a short malformed body is
// still a 400, and one just under the bound is read whole.
func TestJSONBodyTooLarge(t *testing.T) {
	t.Parallel()
	api := newSignedURLAPI(t, t.TempDir(), "ffmpeg")
	client := openapitest.NewTransport(t, openapitest.Load(t, "hearth.yaml"), http.DefaultTransport).Client()
	put := func(client *http.Client, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", api.srv.URL+"/api/recording-settings/main", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer admin")
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var e struct{ Message string }
		_ = json.Unmarshal(b, &e)
		return res.StatusCode, e.Message
	}
	// (The malformed body goes around the spec-checking client, which
	// refuses to send it.)
	// {"maxCount": 1} padded with spaces to the size wanted.
	padded := func(n int) string {
		s := `{"maxCount": 1}`
		return s[:1] + strings.Repeat(" ", n-len(s)) + s[1:]
	}
	if code, msg := put(client, padded(80<<10)); code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "too large") {
		t.Errorf("80 KiB body: %d %q, want 413 saying too large", code, msg)
	}
	if code, msg := put(http.DefaultClient, `{"maxCount": `); code != http.StatusBadRequest || !strings.Contains(msg, "invalid JSON") {
		t.Errorf("malformed body: %d %q, want 400", code, msg)
	}
	if code, msg := put(client, padded(60<<10)); code != http.StatusOK {
		t.Errorf("60 KiB body: %d %q, want 200", code, msg)
	}
}

// TestJSONBodyOneObject: a body must be one JSON object and nothing else.
// null (read as {}: on PUT recording-settings it reset every field of the
// stage to the defaults) and an object followed by anything else (read as
// the object alone) were answered 200; they are 400 like any other
// malformed body, and the settings stay as they were.
func TestJSONBodyOneObject(t *testing.T) {
	t.Parallel()
	api := newSignedURLAPI(t, t.TempDir(), "ffmpeg")
	do := func(method, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, api.srv.URL+"/api/recording-settings/main", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer admin")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var e struct {
			Message  string
			MaxCount *int
		}
		_ = json.Unmarshal(b, &e)
		if e.MaxCount != nil {
			return res.StatusCode, strconv.Itoa(*e.MaxCount)
		}
		return res.StatusCode, e.Message
	}
	put := func(body string) (int, string) { t.Helper(); return do("PUT", body) }
	if code, got := put(` {"maxCount": 7} ` + "\n"); code != http.StatusOK || got != "7" {
		t.Fatalf("one object: %d %q, want 200 with maxCount 7", code, got)
	}
	for _, body := range []string{`null`, ` null `, `{}x`, `{"maxCount": 1}{}`, `{} {"maxCount": 2}`, `{}}`, `{}]`} {
		if code, msg := put(body); code != http.StatusBadRequest || !strings.Contains(msg, "invalid JSON") {
			t.Errorf("%q: %d %q, want 400 invalid JSON", body, code, msg)
		}
	}
	if code, got := do("GET", ""); code != http.StatusOK || got != "7" {
		t.Fatalf("settings after the refused bodies: %d %q, want maxCount 7 kept", code, got)
	}
}
