// Package fedtest is a fediverse peer for tests: an account on an httptest
// server playing Mastodon with a real HTTP-signature library
// (go-fed/httpsig). It serves its actor document and WebFinger, signs what
// it posts, and checks the signature of everything delivered to its inbox
// against the key the sender's actor publishes.
package fedtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-fed/httpsig"
)

// Wait is how long Next and NextOfType wait for a delivery.
const Wait = 2 * time.Minute

// Peer is one fediverse account on its own test server.
type Peer struct {
	srv  *httptest.Server
	name string
	got  chan map[string]any

	mu   sync.Mutex
	key  *rsa.PrivateKey
	fail int // answer 500 to this many deliveries
	pad  int // bytes of padding in the actor document
	// claim, when set, is the actor id (and key owner) the actor document
	// claims in place of its own URL: an impersonation attempt.
	claim string
	// display, when set, is the actor document's name (else the account
	// name, capitalised).
	display string
	// inboxURL and sharedURL, when set, are the inboxes the actor document
	// gives in place of the peer's own.
	inboxURL, sharedURL string
	// gone: the account is deleted and its actor document answers 410
	// Gone, as Mastodon's does.
	gone bool
}

// NewPeer starts a peer with the account name; it stops with the test.
func NewPeer(t testing.TB, name string) *Peer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Peer{name: name, key: k, got: make(chan map[string]any, 64)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/"+name, p.actorDoc)
	mux.HandleFunc("POST /inbox", p.inbox)
	mux.HandleFunc("POST /users/"+name+"/inbox", p.inbox)
	mux.HandleFunc("GET /.well-known/webfinger", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"subject": r.URL.Query().Get("resource"), "links": []any{
			map[string]any{"rel": "self", "type": "application/activity+json", "href": p.Actor()},
			map[string]any{"rel": "http://ostatus.org/schema/1.0/subscribe", "template": p.srv.URL + "/authorize_interaction?uri={uri}"},
		}})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the peer server's base URL (http://host:port).
func (p *Peer) URL() string { return p.srv.URL }

// Actor is the account's actor IRI.
func (p *Peer) Actor() string { return p.srv.URL + "/users/" + p.name }

// SetKey replaces the account's key (a key rotation): its actor document
// publishes the new one from now on.
func (p *Peer) SetKey(k *rsa.PrivateKey) {
	p.mu.Lock()
	p.key = k
	p.mu.Unlock()
}

// FailNext makes the inbox answer 500 to the next n signed deliveries.
func (p *Peer) FailNext(n int) {
	p.mu.Lock()
	p.fail = n
	p.mu.Unlock()
}

// Claim makes the actor document claim the actor id id (its key's owner
// too) while the key stays on this peer's server.
func (p *Peer) Claim(id string) {
	p.mu.Lock()
	p.claim = id
	p.mu.Unlock()
}

// SetName sets the name the actor document gives.
func (p *Peer) SetName(name string) {
	p.mu.Lock()
	p.display = name
	p.mu.Unlock()
}

// SetInboxes sets the inbox and shared inbox the actor document gives
// ("" keeps the peer's own).
func (p *Peer) SetInboxes(inbox, shared string) {
	p.mu.Lock()
	p.inboxURL, p.sharedURL = inbox, shared
	p.mu.Unlock()
}

// Gone deletes the account: its actor document answers 410 Gone from now
// on, as a deleted Mastodon account's does (its key can still sign).
func (p *Peer) Gone() {
	p.mu.Lock()
	p.gone = true
	p.mu.Unlock()
}

// PadActor adds n bytes of padding to the actor document.
func (p *Peer) PadActor(n int) {
	p.mu.Lock()
	p.pad = n
	p.mu.Unlock()
}

func (p *Peer) actorDoc(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		http.Error(w, "gone", http.StatusGone)
		return
	}
	pub, _ := x509.MarshalPKIXPublicKey(&p.key.PublicKey)
	pad := strings.Repeat(" ", p.pad)
	id := p.Actor()
	if p.claim != "" {
		id = p.claim
	}
	display := strings.ToUpper(p.name[:1]) + p.name[1:]
	if p.display != "" {
		display = p.display
	}
	inbox, shared := p.Actor()+"/inbox", p.srv.URL+"/inbox"
	if p.inboxURL != "" {
		inbox = p.inboxURL
	}
	if p.sharedURL != "" {
		shared = p.sharedURL
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/activity+json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"summary":  pad,
		"@context": []string{"https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"},
		"id":       id, "type": "Person", "preferredUsername": p.name, "name": display,
		"inbox": inbox, "endpoints": map[string]any{"sharedInbox": shared},
		"icon": map[string]any{"type": "Image", "url": p.srv.URL + "/avatar.png"},
		"publicKey": map[string]any{"id": p.Actor() + "#main-key", "owner": id,
			"publicKeyPem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))},
	})
}

// inbox verifies the sender's signature against the key its actor
// publishes, then takes the activity (or answers 500 when told to fail).
func (p *Peer) inbox(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v, err := httpsig.NewVerifier(r)
	if err != nil {
		http.Error(w, "unsigned", http.StatusUnauthorized)
		return
	}
	// Fetched every time (no cache), signed as Mastodon signs its fetches.
	kres, err := p.get(r.Context(), v.KeyId())
	if err != nil {
		http.Error(w, "key", http.StatusUnauthorized)
		return
	}
	var actor struct {
		PublicKey struct{ PublicKeyPem string }
	}
	_ = json.NewDecoder(kres.Body).Decode(&actor)
	_ = kres.Body.Close()
	b, _ := pem.Decode([]byte(actor.PublicKey.PublicKeyPem))
	if b == nil {
		http.Error(w, "key", http.StatusUnauthorized)
		return
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil || v.Verify(pub, httpsig.RSA_SHA256) != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	if p.fail > 0 {
		p.fail--
		p.mu.Unlock()
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	p.mu.Unlock()
	var act map[string]any
	_ = json.Unmarshal(body, &act)
	p.got <- act
	w.WriteHeader(http.StatusAccepted)
}

// get GETs an ActivityPub document, signed with the account's key over
// (request-target), host and date, as Mastodon signs its fetches.
func (p *Peer) get(ctx context.Context, raw string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/activity+json")
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	req.Header.Set("Host", req.URL.Host)
	signer, _, err := httpsig.NewSigner([]httpsig.Algorithm{httpsig.RSA_SHA256}, httpsig.DigestSha256,
		[]string{httpsig.RequestTarget, "host", "date"}, httpsig.Signature, 0)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	k := p.key
	p.mu.Unlock()
	if err := signer.SignRequest(k, p.Actor()+"#main-key", req, nil); err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// Fetch GETs an ActivityPub document as the peer's server does: signed
// with the account's key.
func (p *Peer) Fetch(t testing.TB, raw string) Reply {
	t.Helper()
	res, err := p.get(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Reply{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Next waits for the next activity delivered to the peer.
func (p *Peer) Next(t testing.TB) map[string]any {
	t.Helper()
	select {
	case a := <-p.got:
		return a
	case <-time.After(Wait):
		t.Fatalf("no delivery reached %s", p.name)
		return nil
	}
}

// NextOfType waits for the next delivered activity of a type, skipping
// others.
func (p *Peer) NextOfType(t testing.TB, typ string) map[string]any {
	t.Helper()
	deadline := time.After(Wait)
	for {
		select {
		case a := <-p.got:
			if a["type"] == typ {
				return a
			}
		case <-deadline:
			t.Fatalf("no %s reached %s", typ, p.name)
			return nil
		}
	}
}

// SignOpts bends how Post signs (the security cases).
type SignOpts struct {
	Date     time.Time       // the Date header; zero: now
	Key      *rsa.PrivateKey // sign with another key
	Headers  []string        // the signed headers; nil: (request-target) host date digest
	Digest   string          // overrides the Digest header
	Unsigned bool
	// Host, when set, is the Host the request is signed for and carries
	// (a request meant for another server, replayed).
	Host string
	// Algorithm signs with another algorithm than rsa-sha256; Named, when
	// set, replaces the algorithm the header names (go-fed's signer
	// always names hs2019).
	Algorithm httpsig.Algorithm
	Named     string
}

var algorithmParam = regexp.MustCompile(`algorithm="[^"]*"`)

// Reply is an inbox's answer.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Post signs an activity as the account and posts it to an inbox.
func (p *Peer) Post(t testing.TB, inbox string, act map[string]any, o SignOpts) Reply {
	t.Helper()
	body, _ := json.Marshal(act)
	req, _ := http.NewRequest(http.MethodPost, inbox, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/activity+json")
	if o.Date.IsZero() {
		o.Date = time.Now()
	}
	req.Header.Set("Date", o.Date.UTC().Format(http.TimeFormat))
	u, _ := url.Parse(inbox)
	req.Header.Set("Host", u.Host)
	if o.Host != "" {
		req.Host = o.Host
		req.Header.Set("Host", o.Host)
	}
	if !o.Unsigned {
		if o.Headers == nil {
			o.Headers = []string{httpsig.RequestTarget, "host", "date", "digest"}
		}
		k := o.Key
		if k == nil {
			p.mu.Lock()
			k = p.key
			p.mu.Unlock()
		}
		alg := o.Algorithm
		if alg == "" {
			alg = httpsig.RSA_SHA256
		}
		signer, _, err := httpsig.NewSigner([]httpsig.Algorithm{alg}, httpsig.DigestSha256, o.Headers, httpsig.Signature, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := signer.SignRequest(k, p.Actor()+"#main-key", req, body); err != nil {
			t.Fatal(err)
		}
		if o.Named != "" {
			// The algorithm parameter is not signed (draft-cavage): a
			// relay may write hs2019 over it, an attacker anything.
			req.Header.Set("Signature", algorithmParam.ReplaceAllString(req.Header.Get("Signature"), `algorithm="`+o.Named+`"`))
		}
	}
	if o.Digest != "" {
		req.Header.Set("Digest", o.Digest)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	return Reply{Status: res.StatusCode, Header: res.Header, Body: rb}
}

// Follow is a Follow of object (an actor IRI) by the account, with a
// fresh id.
func (p *Peer) Follow(object string) map[string]any {
	return map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": p.Actor() + "#follow-" + time.Now().Format(time.RFC3339Nano),
		"type": "Follow", "actor": p.Actor(), "object": object}
}
