// Package openapitest checks Hearth's surfaces against their OpenAPI
// contracts in api/*.yaml: it loads a spec, lists its operations for drift
// tests, and wraps an HTTP client so that every request and response of a
// test flow is validated against the spec with kin-openapi.
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// registerDecoders teaches the validator the plain-text bodies Hearth's
// specs use (SDP offers and answers of WHIP and WHEP), once per process.
var registerDecoders = sync.OnceFunc(func() {
	openapi3filter.RegisterBodyDecoder("application/sdp", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/trickle-ice-sdpfrag", openapi3filter.PlainBodyDecoder)
})

// Load reads api/<name> from the module root and fails the test unless it
// is a valid OpenAPI document.
func Load(t testing.TB, name string) *openapi3.T {
	t.Helper()
	registerDecoders()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join(root, "api", name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", name, err)
	}
	return doc
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

var param = regexp.MustCompile(`\{[^}]*\}`)

// Normalize turns "GET /a/{id}/b/{rest...}" into "GET /a/{}/b/{}" so Go
// mux patterns and OpenAPI paths compare equal whatever the names.
func Normalize(pattern string) string {
	return param.ReplaceAllString(pattern, "{}")
}

// Operations lists every operation of doc as a normalized "METHOD /path".
func Operations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, Normalize(method+" "+path))
		}
	}
	slices.Sort(out)
	return out
}

var routeLiteral = regexp.MustCompile(`"((?:GET|POST|PUT|PATCH|DELETE|OPTIONS) /[^"]*)"(\s*\+)?`)

// SourceRoutes lists the routes the package under test (the working
// directory) registers, read from its non-test Go files: the route
// patterns written as string literals ("GET /path"), less those followed by
// + (a prefix being concatenated is not a route). It serves surfaces that
// register on a shared server, which keeps no route list. more, when not
// nil, gets each file's source too and adds the routes built otherwise.
func SourceRoutes(t testing.TB, more func(src string) []string) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(raw)
		for _, m := range routeLiteral.FindAllStringSubmatch(src, -1) {
			if m[2] == "" {
				out = append(out, m[1])
			}
		}
		if more != nil {
			out = append(out, more(src)...)
		}
	}
	return out
}

// Diff compares the routes a surface registers with the spec's operations
// (both normalized) and returns the ones missing on each side.
func Diff(routes, spec []string) (notInSpec, notServed []string) {
	have := map[string]bool{}
	for _, r := range routes {
		have[Normalize(r)] = true
	}
	inSpec := map[string]bool{}
	for _, s := range spec {
		inSpec[s] = true
		if !have[s] {
			notServed = append(notServed, s)
		}
	}
	for r := range have {
		if !inSpec[r] {
			notInSpec = append(notInSpec, r)
		}
	}
	slices.Sort(notInSpec)
	slices.Sort(notServed)
	return notInSpec, notServed
}

// SkipRequestHeader, set on a request, skips validating that request (not
// its response): for deliberately bad requests whose error answer is still
// checked. The header is removed before the request is sent.
const SkipRequestHeader = "X-Openapitest-Skip-Request"

// Transport validates each request and response against the spec. Every
// mismatch fails the test.
type Transport struct {
	t      testing.TB
	base   http.RoundTripper
	router routers.Router

	mu   sync.Mutex
	seen map[string]int
}

// NewTransport returns a validating transport over base (nil: the default).
func NewTransport(t testing.TB, doc *openapi3.T, base http.RoundTripper) *Transport {
	t.Helper()
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{t: t, base: base, router: router, seen: map[string]int{}}
}

// Client is an *http.Client using the transport.
func (tr *Transport) Client() *http.Client { return &http.Client{Transport: tr} }

// Seen returns how many exchanges were validated per "METHOD /path" of the
// spec.
func (tr *Transport) Seen() map[string]int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make(map[string]int, len(tr.seen))
	for k, v := range tr.seen {
		out[k] = v
	}
	return out
}

// Unvisited lists the spec's operations ("METHOD /path") that no exchange
// reached, for a flow test to log or bound.
func (tr *Transport) Unvisited(doc *openapi3.T) []string {
	seen := tr.Seen()
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if seen[method+" "+path] == 0 {
				out = append(out, method+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// RoundTrip implements http.RoundTripper.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	skipReq := req.Header.Get(SkipRequestHeader) != ""
	req = req.Clone(req.Context())
	req.Header.Del(SkipRequestHeader)
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	what := req.Method + " " + req.URL.RequestURI()
	route, pathParams, err := tr.router.FindRoute(req)
	if err != nil {
		tr.t.Errorf("openapi: %s: no operation in the spec: %v", what, err)
		return tr.base.RoundTrip(req)
	}
	tr.mu.Lock()
	tr.seen[req.Method+" "+route.Path]++
	tr.mu.Unlock()

	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{Request: req.Clone(ctx), PathParams: pathParams, Route: route,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: authenticate}}
	in.Request.Body = io.NopCloser(bytes.NewReader(reqBody))
	if !skipReq {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			tr.t.Errorf("openapi: request %s does not match the spec:\n%v", what, err)
		}
	}
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	opts := &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true,
		// Bodies other than JSON (files, archives, playlists) are checked
		// for status and content type only.
		ExcludeResponseBody: ct != "application/json" && !strings.HasSuffix(ct, "+json")}
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)), Options: opts}
	if resp.StatusCode == http.StatusNoContent || len(body) == 0 {
		rin.Options.ExcludeResponseBody = true
	}
	if err := openapi3filter.ValidateResponse(ctx, rin); err != nil {
		tr.t.Errorf("openapi: response to %s (%d %s) does not match the spec:\n%v", what, resp.StatusCode, truncate(body), err)
	}
	return resp, nil
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// authenticate checks that the request carries the credential the security
// scheme describes (its value is the server's business).
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	r := in.RequestValidationInput.Request
	switch s.Type {
	case "http":
		want := strings.ToLower(s.Scheme)
		scheme, _, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if ok && strings.ToLower(scheme) == want {
			return nil
		}
		return fmt.Errorf("no %s credentials", s.Scheme)
	case "apiKey":
		var v string
		switch s.In {
		case "header":
			v = r.Header.Get(s.Name)
		case "query":
			v = r.URL.Query().Get(s.Name)
		case "cookie":
			if c, err := r.Cookie(s.Name); err == nil {
				v = c.Value
			}
		}
		if v == "" {
			return fmt.Errorf("no %s %s", s.In, s.Name)
		}
		if p := s.Extensions["x-prefix"]; p != nil {
			if prefix, _ := p.(string); !strings.HasPrefix(v, prefix) {
				return fmt.Errorf("%s %s does not start with %q", s.In, s.Name, prefix)
			}
		}
		return nil
	}
	return fmt.Errorf("unsupported security scheme type %q", s.Type)
}
