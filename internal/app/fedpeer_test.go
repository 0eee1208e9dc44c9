package app_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-fed/httpsig"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
)

// fedConfig is a node whose federation may reach loopback peers (the
// test-only --federation-test-loopback).
func fedConfig(t *testing.T) config.Config {
	cfg := testConfig(t)
	cfg.FederationTestLoopback = true
	return cfg
}

// owncastAdmin sets an Owncast admin config value on a node.
func owncastAdmin(t *testing.T, base, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.SetBasicAuth("admin", "adminpassword")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// federate turns federation on for a node, its server URL its own address.
func federate(t *testing.T, a *app.App) string {
	t.Helper()
	base := a.HTTP.URL()
	for _, c := range []struct {
		path  string
		value any
	}{
		{"/api/admin/config/serverurl", base},
		{"/api/admin/config/federation/username", "streamer"},
		{"/api/admin/config/federation/enable", true},
	} {
		if code, b := owncastAdmin(t, base, "POST", c.path, map[string]any{"value": c.value}); code != 200 {
			t.Fatalf("%s: %d %s", c.path, code, b)
		}
	}
	return base
}

// mastodon is a fediverse account on a test server playing Mastodon with
// a real HTTP-signature library (go-fed/httpsig): it serves its actor and
// WebFinger, signs what it posts, and checks the signature of everything
// delivered to its inbox against the sender's published key.
type mastodon struct {
	t    *testing.T
	srv  *httptest.Server
	name string
	key  *rsa.PrivateKey
	got  chan map[string]any
}

func newMastodon(t *testing.T, name string) *mastodon {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	m := &mastodon{t: t, name: name, key: k, got: make(chan map[string]any, 64)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/"+name, func(w http.ResponseWriter, r *http.Request) {
		pub, _ := x509.MarshalPKIXPublicKey(&m.key.PublicKey)
		w.Header().Set("Content-Type", "application/activity+json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"@context": []string{"https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"},
			"id":       m.actor(), "type": "Person", "preferredUsername": name, "name": strings.ToUpper(name[:1]) + name[1:],
			"inbox": m.actor() + "/inbox", "endpoints": map[string]any{"sharedInbox": m.srv.URL + "/inbox"},
			"icon": map[string]any{"type": "Image", "url": m.srv.URL + "/avatar.png"},
			"publicKey": map[string]any{"id": m.actor() + "#main-key", "owner": m.actor(),
				"publicKeyPem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))},
		})
	})
	mux.HandleFunc("POST /inbox", m.inbox)
	mux.HandleFunc("POST /users/"+name+"/inbox", m.inbox)
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

func (m *mastodon) actor() string { return m.srv.URL + "/users/" + m.name }

func (m *mastodon) inbox(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v, err := httpsig.NewVerifier(r)
	if err != nil {
		http.Error(w, "unsigned", 401)
		return
	}
	kreq, _ := http.NewRequest("GET", v.KeyId(), nil)
	kreq.Header.Set("Accept", "application/activity+json")
	kres, err := http.DefaultClient.Do(kreq)
	if err != nil {
		http.Error(w, "key", 401)
		return
	}
	var actor struct{ PublicKey struct{ PublicKeyPem string } }
	_ = json.NewDecoder(kres.Body).Decode(&actor)
	kres.Body.Close()
	b, _ := pem.Decode([]byte(actor.PublicKey.PublicKeyPem))
	if b == nil {
		http.Error(w, "key", 401)
		return
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil || v.Verify(pub, httpsig.RSA_SHA256) != nil {
		http.Error(w, "bad signature", 401)
		return
	}
	var act map[string]any
	_ = json.Unmarshal(body, &act)
	m.got <- act
	w.WriteHeader(202)
}

// next waits for the next delivery of a type.
func (m *mastodon) next(typ string) map[string]any {
	m.t.Helper()
	deadline := time.After(hangGuard)
	for {
		select {
		case a := <-m.got:
			if a["type"] == typ {
				return a
			}
		case <-deadline:
			m.t.Fatalf("no %s reached %s", typ, m.name)
			return nil
		}
	}
}

// post signs an activity with the account's key and posts it to an inbox.
func (m *mastodon) post(inbox string, act map[string]any) int {
	m.t.Helper()
	body, _ := json.Marshal(act)
	req, _ := http.NewRequest("POST", inbox, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/activity+json")
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	u, _ := url.Parse(inbox)
	req.Header.Set("Host", u.Host)
	signer, _, err := httpsig.NewSigner([]httpsig.Algorithm{httpsig.RSA_SHA256}, httpsig.DigestSha256,
		[]string{httpsig.RequestTarget, "host", "date", "digest"}, httpsig.Signature, 0)
	if err != nil {
		m.t.Fatal(err)
	}
	if err := signer.SignRequest(m.key, m.actor()+"#main-key", req, body); err != nil {
		m.t.Fatal(err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		m.t.Logf("%s %s: %d %s", act["type"], inbox, res.StatusCode, rb)
	}
	return res.StatusCode
}

func (m *mastodon) follow(actor string) int {
	return m.post(actor+"/inbox", map[string]any{"@context": "https://www.w3.org/ns/activitystreams",
		"id": m.actor() + "#follow-" + time.Now().Format(time.RFC3339Nano), "type": "Follow", "actor": m.actor(), "object": actor})
}
