package hearthapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/openapitest"
)

// fileURL is the answer of the routes that hand out a signed file URL
// (a clip's file-url, a recording's download-url).
type fileURL struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// specGetter is GET against srv, each request and answer checked against
// api/hearth.yaml: get(path, bearer token or "", header name, value, ...).
func specGetter(t *testing.T, srv *httptest.Server) func(path, token string, hdr ...string) (*http.Response, []byte) {
	client := openapitest.NewTransport(t, openapitest.Load(t, "hearth.yaml"), http.DefaultTransport).Client()
	return func(path, token string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
}

// signedURLOf is the signed URL the route at path hands out to token's
// account (not to be cached: Cache-Control no-store).
func signedURLOf(t *testing.T, get func(path, token string, hdr ...string) (*http.Response, []byte), path, token string) fileURL {
	t.Helper()
	res, b := get(path, token)
	var u fileURL
	if res.StatusCode != 200 || json.Unmarshal(b, &u) != nil || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s as %q: %d %v %s", path, token, res.StatusCode, res.Header, b)
	}
	return u
}
