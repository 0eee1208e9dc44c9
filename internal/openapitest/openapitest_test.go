package openapitest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

const spec = `
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      security: [{bearer: []}]
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                required: [id, n]
                properties: {id: {type: string}, n: {type: integer, nullable: true}}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
`

// recorder captures Errorf so a test can check the transport reports.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestTransport(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, auth, body string
		status                 int
		want                   string // substring of the reported error; "" for none
	}{
		{"matches", "/things/1", "Bearer x", `{"id":"1","n":null}`, 200, ""},
		{"missing field", "/things/1", "Bearer x", `{"id":"1"}`, 200, `property "n" is missing`},
		{"extra field", "/things/1", "Bearer x", `{"id":"1","n":1,"x":2}`, 200, `property "x" is unsupported`},
		{"wrong type", "/things/1", "Bearer x", `{"id":1,"n":1}`, 200, "must be a string"},
		{"undocumented status", "/things/1", "Bearer x", `{"id":"1","n":1}`, 418, "status is not supported"},
		{"unknown path", "/nothing", "Bearer x", `{}`, 200, "no operation in the spec"},
		{"no credentials", "/things/1", "", `{"id":"1","n":1}`, 200, "security requirement"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			t.Cleanup(srv.Close)
			rec := &recorder{TB: t}
			tr := NewTransport(rec, doc, nil)
			req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL+c.path, nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			resp, err := tr.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			got := strings.Join(rec.errs, "\n")
			if c.want == "" && got != "" {
				t.Fatalf("unexpected report: %s", got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("report %q does not contain %q", got, c.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	notInSpec, notServed := Diff([]string{"GET /a/{id}", "POST /b", "GET /f/{p...}"}, []string{"GET /a/{}", "GET /c", "GET /f/{}"})
	if strings.Join(notInSpec, ",") != "POST /b" || strings.Join(notServed, ",") != "GET /c" {
		t.Fatalf("Diff = %v, %v", notInSpec, notServed)
	}
}
