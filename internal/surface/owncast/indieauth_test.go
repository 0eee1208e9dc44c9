package owncast_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// indieServer is a minimal IndieAuth server: a profile page naming its
// authorization endpoint, and that endpoint redeeming codes with PKCE.
type indieServer struct {
	srv *httptest.Server
	mu  sync.Mutex
	// challenges by code, set when the "browser" approves.
	challenges map[string]string
	me         string // what the token endpoint answers as "me"
}

func newIndieServer(t *testing.T) *indieServer {
	is := &indieServer{challenges: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /profile", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><html><head><link rel="me authorization_endpoint" href="/auth"></head><body>hi</body></html>`))
	})
	mux.HandleFunc("POST /auth", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		is.mu.Lock()
		challenge, ok := is.challenges[r.Form.Get("code")]
		me := is.me
		is.mu.Unlock()
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge || r.Form.Get("grant_type") != "authorization_code" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "bad code"})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"me": me})
	})
	is.srv = httptest.NewServer(mux)
	is.me = is.srv.URL + "/profile"
	t.Cleanup(is.srv.Close)
	return is
}

// approve plays the browser at the authorization endpoint: it returns the
// state and a code bound to the PKCE challenge of the redirect.
func (is *indieServer) approve(t *testing.T, redirect string) (state, code string) {
	t.Helper()
	u, err := url.Parse(redirect)
	if err != nil || !strings.HasPrefix(redirect, is.srv.URL+"/auth?") {
		t.Fatalf("redirect %q", redirect)
	}
	q := u.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("me") != is.srv.URL+"/profile" ||
		q.Get("redirect_uri") != "https://stage.example/api/auth/indieauth/callback" || q.Get("client_id") != "https://stage.example" {
		t.Fatalf("authorization request %v", q)
	}
	code = "code-" + q.Get("state")
	is.mu.Lock()
	is.challenges[code] = q.Get("code_challenge")
	is.mu.Unlock()
	return q.Get("state"), code
}

func callback(t *testing.T, n *node, state, code string) *http.Response {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(n.url + "/api/auth/indieauth/callback?state=" + url.QueryEscape(state) + "&code=" + url.QueryEscape(code))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestIndieAuthSignIn(t *testing.T) {
	t.Parallel()
	is := newIndieServer(t)
	target := netip.MustParseAddrPort(strings.TrimPrefix(is.srv.URL, "http://"))
	n := newNode(t, nodeOpts{allow: func(ap netip.AddrPort) bool { return ap == target }})
	alice := n.register(t, "alice")
	start := func(token, host string) reply {
		return n.do(t, "POST", "/api/auth/indieauth?accessToken="+token, "", map[string]string{"authHost": host})
	}
	// Owncast needs the server URL first.
	if r := start(alice.AccessToken, is.srv.URL+"/profile"); r.status != 400 || !strings.Contains(string(r.body), "server URL") {
		t.Fatalf("no server URL: %d %s", r.status, r.body)
	}
	if r := n.do(t, "POST", "/api/admin/config/serverurl", "admin", map[string]string{"value": "https://stage.example"}); r.status != 200 {
		t.Fatalf("serverurl: %d %s", r.status, r.body)
	}
	if r := start("", is.srv.URL+"/profile"); r.status != 401 {
		t.Fatalf("no chat token: %d", r.status)
	}
	var out map[string]string
	r := start(alice.AccessToken, is.srv.URL+"/profile")
	r.json(t, &out)
	if r.status != 200 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	state, code := is.approve(t, out["redirect"])
	if resp := callback(t, n, state, "wrong-code"); resp.StatusCode != 400 {
		t.Fatalf("bad code: %d", resp.StatusCode)
	}
	// A failed attempt used the request up (single use): start again.
	start(alice.AccessToken, is.srv.URL+"/profile").json(t, &out)
	state, code = is.approve(t, out["redirect"])
	if resp := callback(t, n, state, code); resp.StatusCode != 307 || resp.Header.Get("Location") != "/" {
		t.Fatalf("callback: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := callback(t, n, state, code); resp.StatusCode != 400 {
		t.Fatalf("replayed callback: %d", resp.StatusCode)
	}
	ctx := context.Background()
	if u, err := n.chat.User(ctx, alice.ID); err != nil || u.AuthenticatedAt == nil {
		t.Fatalf("alice not authenticated: %+v %v", u, err)
	}

	// Signing in as the same profile from another browser moves that
	// browser's token to alice.
	other := n.register(t, "otherbrowser")
	start(other.AccessToken, is.srv.URL+"/profile").json(t, &out)
	state, code = is.approve(t, out["redirect"])
	if resp := callback(t, n, state, code); resp.StatusCode != 307 {
		t.Fatalf("second sign-in: %d", resp.StatusCode)
	}
	if u, err := n.chat.Authenticate(ctx, other.AccessToken); err != nil || u.ID != alice.ID {
		t.Fatalf("token owner %+v %v, want alice", u, err)
	}

	// The server answering for another profile is refused.
	bob := n.register(t, "bob")
	start(bob.AccessToken, is.srv.URL+"/profile").json(t, &out)
	state, code = is.approve(t, out["redirect"])
	is.mu.Lock()
	is.me = "https://someone-else.example/"
	is.mu.Unlock()
	if resp := callback(t, n, state, code); resp.StatusCode != 400 {
		t.Fatalf("mismatched me: %d", resp.StatusCode)
	}
	if u, _ := n.chat.User(ctx, bob.ID); u.AuthenticatedAt != nil {
		t.Fatal("bob authenticated with someone else's profile")
	}
}

// TestIndieAuthHostSSRF is perf.md §6.2 item 5 (CVE-2023-46480): authHost
// pointing at loopback, link-local/metadata, IPv4-mapped IPv6 and private
// addresses is refused with a clear error and never fetched.
func TestIndieAuthHostSSRF(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	canary := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<link rel="authorization_endpoint" href="/auth">`))
	}))
	canary.Listener = countingListener{canary.Listener, &conns}
	canary.StartTLS()
	t.Cleanup(canary.Close)
	port := canary.Listener.Addr().(*net.TCPAddr).Port
	p := ":" + strconv.Itoa(port)
	n := newNode(t, nodeOpts{}) // the production address rules
	n.do(t, "POST", "/api/admin/config/serverurl", "admin", map[string]string{"value": "https://stage.example"})
	u := n.register(t, "prober")
	hosts := []string{
		"https://127.0.0.1" + p + "/",
		"https://localhost" + p + "/",
		"https://127.1" + p + "/",
		"https://[::1]" + p + "/",
		"https://[::ffff:127.0.0.1]" + p + "/",
		"https://[::ffff:7f00:1]" + p + "/",
		"https://169.254.169.254/latest/meta-data/",
		"https://[::ffff:169.254.169.254]/",
		"https://[fe80::1]/",
		"https://10.0.0.1/", "https://172.16.0.1/", "https://192.168.1.1/", "https://100.64.0.1/", "https://[fd00::1]/",
		"https://0.0.0.0" + p + "/",
		"http://127.0.0.1" + p + "/",
		"file:///etc/passwd", "gopher://127.0.0.1" + p + "/", "javascript:alert(1)", "", "not a url",
		"https://user:pass@127.0.0.1" + p + "/",
	}
	for _, h := range hosts {
		r := n.do(t, "POST", "/api/auth/indieauth?accessToken="+u.AccessToken, "", map[string]string{"authHost": h})
		var res map[string]any
		json.Unmarshal(r.body, &res)
		msg, _ := res["message"].(string)
		if r.status != 400 || res["success"] != false || !strings.Contains(msg, "authHost") {
			t.Errorf("authHost %q: %d %s", h, r.status, r.body)
		}
	}
	if c := conns.Load(); c != 0 {
		t.Fatalf("the loopback canary was contacted %d times", c)
	}
	// The canary does answer when contacted directly: the count is live.
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := cl.Get(canary.URL); err == nil {
		resp.Body.Close()
	}
	if conns.Load() == 0 {
		t.Fatal("canary does not count connections")
	}
}

type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}
