package federation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-fed/httpsig"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// Limits on what strangers can make us read.
const (
	maxActorDoc   = 256 << 10 // a remote actor document
	maxKeyCache   = 10000     // cached remote actors
	refetchPeriod = time.Minute
)

// remoteActor is what we keep of a fetched remote actor document.
type remoteActor struct {
	ID          string
	Inbox       string
	SharedInbox string
	Name        string
	Username    string // preferredUsername
	Image       string
	KeyID       string
	Key         crypto.PublicKey
	fetchedAt   time.Time
	refetched   bool // fetched again after a failed verification
}

// FullUsername is user@host.
func (a *remoteActor) FullUsername() string {
	u, err := url.Parse(a.ID)
	if err != nil {
		return a.Username
	}
	return a.Username + "@" + u.Host
}

type keyCache struct {
	s  *Service
	mu sync.Mutex
	m  map[string]*remoteActor // by key id
}

func newKeyCache(s *Service) *keyCache { return &keyCache{s: s, m: map[string]*remoteActor{}} }

// get returns the actor owning keyID, from the cache unless fresh is set
// (or the entry is stale).
func (c *keyCache) get(ctx context.Context, keyID string, fresh bool) (*remoteActor, error) {
	now := c.s.now()
	c.mu.Lock()
	a, ok := c.m[keyID]
	c.mu.Unlock()
	if ok && now.Sub(a.fetchedAt) < c.s.cfg.KeyCacheTTL {
		// A refetch (key rotation) is allowed at once after a normal
		// fetch, then at most once a minute per key, so a stream of bad
		// signatures cannot make us fetch a remote document for each.
		if !fresh || (a.refetched && now.Sub(a.fetchedAt) < refetchPeriod) {
			return a, nil
		}
	}
	a, err := c.s.fetchActorForKey(ctx, keyID)
	if err != nil {
		return nil, err
	}
	a.fetchedAt, a.refetched = now, fresh
	c.mu.Lock()
	if len(c.m) >= maxKeyCache {
		for k := range c.m { // drop an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[keyID] = a
	c.mu.Unlock()
	return a, nil
}

// fetchJSON GETs an ActivityPub document through egress (signed with the
// server actor's key, for servers in authorized-fetch mode), bounded.
func (s *Service) fetchJSON(ctx context.Context, raw string, limit int64) (map[string]any, error) {
	if _, err := s.client.CheckURL(raw); err != nil {
		return nil, fault.Wrap(fault.Invalid, "cannot fetch "+raw, err)
	}
	// Fetches take turns: an inbound activity needs no account, and each
	// fresh key id in one made us fetch (up to 256 KiB, for up to 10 s).
	// A sender the surface named (ratelimit.WithTurnKey: an inbox POST's
	// address) makes or awaits at most FetchesPerSender of them.
	release, err := s.fetches.TakeFor(ctx)
	switch {
	case errors.Is(err, ratelimit.ErrNoTurn):
		return nil, &fault.Error{Kind: fault.RateLimited, RetryAfter: s.cfg.FetchWait,
			Msg: "busy fetching other documents; try again shortly"}
	case errors.Is(err, ratelimit.ErrOwnTurns):
		return nil, &fault.Error{Kind: fault.RateLimited, RetryAfter: time.Second,
			Msg: "too many of your documents are being fetched at once; try again shortly"}
	}
	if err != nil {
		return nil, err
	}
	defer release()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, "bad URL", err)
	}
	req.Header.Set("Accept", `application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"`)
	st := s.Settings()
	if st.ServerURL != "" {
		if err := s.sign(ctx, req, s.keyID(st, st.Username), nil); err != nil {
			return nil, err
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("federation: fetch %s: %w", raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusGone {
		return nil, fmt.Errorf("federation: fetch %s: %w", raw, errGone)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("federation: fetch %s: status %d", raw, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("federation: fetch %s: %w", raw, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("federation: fetch %s: document larger than %d bytes", raw, limit)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("federation: fetch %s: %w", raw, err)
	}
	return doc, nil
}

// fetchActorForKey fetches the document a key id points into (the actor,
// or a key document with an owner) and returns the actor and its key.
func (s *Service) fetchActorForKey(ctx context.Context, keyID string) (*remoteActor, error) {
	docURL, _, _ := strings.Cut(keyID, "#")
	doc, err := s.fetchJSON(ctx, docURL, maxActorDoc)
	if err != nil {
		return nil, err
	}
	if _, isKey := doc["publicKeyPem"]; isKey {
		owner := str(doc["owner"])
		if owner == "" {
			return nil, errors.New("federation: key document has no owner")
		}
		if doc, err = s.fetchJSON(ctx, owner, maxActorDoc); err != nil {
			return nil, err
		}
		docURL = owner
	}
	a := parseActor(doc)
	if a.ID == "" || a.Inbox == "" {
		return nil, errors.New("federation: remote actor has no id or inbox")
	}
	// A document speaks only for an actor of the server it came from
	// (the key's own, or its owner's): otherwise any server could publish
	// a key "owned" by another server's actor and act as that actor.
	if !sameOrigin(a.ID, docURL) {
		return nil, errors.New("federation: the actor's id is not on the server of its document")
	}
	// What we send the actor goes to its own server: an inbox elsewhere
	// would let any server have this node post, once per actor it makes
	// up, to a host of its choosing (a follow's Accept, then every post
	// to followers). A shared inbox elsewhere is not used.
	if !sameOrigin(a.Inbox, a.ID) {
		return nil, errors.New("federation: the actor's inbox is not on its server")
	}
	if a.SharedInbox != "" && !sameOrigin(a.SharedInbox, a.ID) {
		a.SharedInbox = ""
	}
	// The key must be the actor's own: listed on the actor with this id
	// and owned by it.
	for _, k := range list(doc["publicKey"]) {
		km, _ := k.(map[string]any)
		if str(km["id"]) != keyID || str(km["owner"]) != a.ID {
			continue
		}
		pub, err := parsePublicKey(str(km["publicKeyPem"]))
		if err != nil {
			return nil, err
		}
		a.KeyID, a.Key = keyID, pub
		return a, nil
	}
	return nil, errors.New("federation: the actor does not publish this key")
}

// ourHost reports whether host (a request's Host) names the server at
// serverURL; a default port may be written or left out.
func ourHost(host, serverURL string) bool {
	u, err := url.Parse(serverURL)
	if err != nil || u.Host == "" {
		return false
	}
	norm := func(h, scheme string) string {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if p := ":" + map[string]string{"https": "443", "http": "80"}[scheme]; p != ":" {
			h = strings.TrimSuffix(h, p)
		}
		return h
	}
	return host != "" && norm(host, u.Scheme) == norm(u.Host, u.Scheme)
}

// sameOrigin reports whether a and b are http(s) URLs of one scheme, host
// and port.
func sameOrigin(a, b string) bool {
	ua, err := url.Parse(a)
	if err != nil {
		return false
	}
	ub, err := url.Parse(b)
	if err != nil {
		return false
	}
	scheme := strings.ToLower(ua.Scheme)
	return (scheme == "https" || scheme == "http") && scheme == strings.ToLower(ub.Scheme) &&
		ua.Host != "" && strings.EqualFold(ua.Host, ub.Host) && ua.User == nil
}

func parseActor(doc map[string]any) *remoteActor {
	// Names are a stranger's text: the rule every display name follows
	// (no markup, control or bidi characters, 64 characters).
	a := &remoteActor{ID: str(doc["id"]), Inbox: str(doc["inbox"]),
		Name:     identity.CleanName(str(doc["name"]), identity.MaxDisplayNameLength),
		Username: identity.CleanName(str(doc["preferredUsername"]), identity.MaxDisplayNameLength)}
	if ep, ok := doc["endpoints"].(map[string]any); ok {
		a.SharedInbox = str(ep["sharedInbox"])
	}
	for _, ic := range list(doc["icon"]) {
		switch v := ic.(type) {
		case string:
			a.Image = v
		case map[string]any:
			a.Image = idOf(v["url"])
		}
		if a.Image != "" {
			break
		}
	}
	// The avatar is a link in clients' markup (Owncast's follower list
	// and chat): only a web URL is kept.
	if u, err := url.Parse(a.Image); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		a.Image = ""
	}
	return a
}

func parsePublicKey(p string) (crypto.PublicKey, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return nil, errors.New("federation: public key is not PEM")
	}
	if k, err := x509.ParsePKIXPublicKey(b.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS1PublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("federation: parse public key: %w", err)
	}
	return k, nil
}

// str reads a JSON string.
func str(v any) string { s, _ := v.(string); return s }

// idOf reads an IRI that may be given as a string or as an object with id
// (or href, for links).
func idOf(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		if id := str(t["id"]); id != "" {
			return id
		}
		return str(t["href"])
	case []any:
		if len(t) > 0 {
			return idOf(t[0])
		}
	}
	return ""
}

// list reads a JSON value that may be one item or an array.
func list(v any) []any {
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		return t
	default:
		return []any{t}
	}
}

// signatureParams parses the Signature header's key="value" pairs.
func signatureParams(h string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		out[strings.ToLower(k)] = strings.Trim(v, `"`)
	}
	return out
}

// verified is a request whose signature checked out.
type verified struct {
	actor *remoteActor
	body  []byte
}

// errGone is a remote document its server answers 410 Gone for: a deleted
// account's actor, as Mastodon answers.
var errGone = errors.New("the document is gone (410)")

// Inbound-request errors, each a named case in the tests.
var (
	errNoSignature   = fault.New(fault.Unauthorized, "request is not signed")
	errBadSignature  = fault.New(fault.Unauthorized, "signature does not verify")
	errDateWindow    = fault.New(fault.Unauthorized, "signed Date is outside the accepted window")
	errDigest        = fault.New(fault.Unauthorized, "Digest does not match the body")
	errHeadersSigned = fault.New(fault.Unauthorized, "signature must cover (request-target), host, date and digest")
	errBodyTooLarge  = fault.New(fault.Invalid, "activity body too large")
	errBlocked       = fault.New(fault.Forbidden, "domain is blocked")
)

// verifyRequest checks an inbound POST: body size, signed headers, Date
// window, Digest, blocked domains, and the signature against the key the
// signer's actor publishes (refetched once when it fails, for rotation).
func (s *Service) verifyRequest(ctx context.Context, r *http.Request) (*verified, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBody+1))
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, "unable to read body", err)
	}
	if int64(len(body)) > s.cfg.MaxBody {
		return nil, errBodyTooLarge
	}
	a, err := s.verifySigned(ctx, r, body)
	if errors.Is(err, errGone) {
		// Its body is kept for goneSelfDelete.
		return &verified{body: body}, err
	}
	if err != nil {
		return nil, err
	}
	return &verified{actor: a, body: body}, nil
}

// goneSelfDelete reports whether a request whose signer's key could not be
// fetched because the signer's actor document is gone (410) is that
// actor's Delete of itself, and returns the actor. A deleted account
// (Mastodon's) signs its Delete with a key its server no longer serves, so
// it can never be verified; its server answering 410 for the actor's own
// id, fetched here from that server (the signature's Date, Digest and
// Host checked first), is the proof that it is gone.
func goneSelfDelete(r *http.Request, v *verified) (string, bool) {
	var act map[string]any
	if v == nil || json.Unmarshal(v.body, &act) != nil || str(act["type"]) != "Delete" {
		return "", false
	}
	actor := idOf(act["actor"])
	keyDoc, _, _ := strings.Cut(signatureParams(signatureOf(r))["keyid"], "#")
	if actor == "" || idOf(act["object"]) != actor || keyDoc != actor {
		return "", false
	}
	return actor, true
}

// verifyFetch checks a signed GET (a server fetching a document signs it
// with its own actor's key, as Mastodon, Owncast and Hearth do): signed
// headers, Date window, blocked domains and the signature. It returns the
// signer's actor.
func (s *Service) verifyFetch(ctx context.Context, r *http.Request) (*remoteActor, error) {
	return s.verifySigned(ctx, r, nil)
}

// verifySigned checks a request's signature: over (request-target), host
// and date, and digest too when body is not nil (a POST), which must match
// it; the Date within the window; the Host ours; the signer's domain not
// blocked; and the signature against the key the signer's actor publishes
// (refetched once when it fails, for rotation).
func (s *Service) verifySigned(ctx context.Context, r *http.Request, body []byte) (*remoteActor, error) {
	sigHeader := signatureOf(r)
	if sigHeader == "" {
		return nil, errNoSignature
	}
	params := signatureParams(sigHeader)
	signed := map[string]bool{}
	for _, h := range strings.Fields(strings.ToLower(params["headers"])) {
		signed[h] = true
	}
	need := []string{"(request-target)", "host", "date"}
	if body != nil {
		need = append(need, "digest")
	}
	for _, h := range need {
		if !signed[h] {
			return nil, errHeadersSigned
		}
	}
	date, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		return nil, errDateWindow
	}
	if d := s.now().Sub(date); d > s.cfg.DateWindow || d < -s.cfg.DateWindow {
		return nil, errDateWindow
	}
	if body != nil && !digestMatches(r.Header.Get("Digest"), body) {
		return nil, errDigest
	}
	// The signature covers the Host it was made for; it must be ours, or
	// a request signed for another server's inbox at the same path could
	// be replayed here.
	if !ourHost(r.Host, s.Settings().ServerURL) {
		return nil, errBadSignature
	}
	keyID := params["keyid"]
	ku, err := url.Parse(keyID)
	if err != nil || ku.Host == "" {
		return nil, errBadSignature
	}
	if blocked(s.Settings(), ku.Hostname()) {
		return nil, errBlocked
	}
	v, err := httpsig.NewVerifier(r)
	if err != nil {
		return nil, errBadSignature
	}
	a, err := s.keys.get(ctx, keyID, false)
	if fault.KindOf(err) == fault.RateLimited {
		return nil, err
	}
	if err != nil {
		s.log.Debug("fetch signer", "key", keyID, "err", err)
		return nil, fault.Wrap(fault.Unauthorized, "cannot fetch the signer's key", err)
	}
	algs := verifyAlgorithms(params["algorithm"])
	if algs == nil {
		return nil, errBadSignature
	}
	if !verifiesWith(v, a.Key, algs) {
		// The actor may have rotated its key: fetch it again, once.
		if a, err = s.keys.get(ctx, keyID, true); err != nil || !verifiesWith(v, a.Key, algs) {
			return nil, errBadSignature
		}
	}
	return a, nil
}

// verifyAlgorithms are the RSA algorithms a signature naming algorithm
// may have been made with: the one it names, or, for hs2019 ("see the
// key") and none named, SHA-256 (Mastodon's) then SHA-512 (go-fed
// signers such as GoToSocial's prefer it). nil: one Hearth does not
// verify (the actor keys it fetches are RSA).
func verifyAlgorithms(algorithm string) []httpsig.Algorithm {
	switch strings.ToLower(algorithm) {
	case "rsa-sha256":
		return []httpsig.Algorithm{httpsig.RSA_SHA256}
	case "rsa-sha512":
		return []httpsig.Algorithm{httpsig.RSA_SHA512}
	case "hs2019", "":
		return []httpsig.Algorithm{httpsig.RSA_SHA256, httpsig.RSA_SHA512}
	}
	return nil
}

func verifiesWith(v httpsig.Verifier, key crypto.PublicKey, algs []httpsig.Algorithm) bool {
	for _, alg := range algs {
		if v.Verify(key, alg) == nil {
			return true
		}
	}
	return false
}

// signatureOf is a request's signature header (Signature, or
// Authorization: Signature …), "" when it has none.
func signatureOf(r *http.Request) string {
	if h := r.Header.Get("Signature"); h != "" {
		return h
	}
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Signature ") {
		return strings.TrimPrefix(a, "Signature ")
	}
	return ""
}

func digestMatches(h string, body []byte) bool {
	sum := sha256.Sum256(body)
	want := base64.StdEncoding.EncodeToString(sum[:])
	for _, part := range strings.Split(h, ",") {
		alg, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(alg, "SHA-256") && val == want {
			return true
		}
	}
	return false
}

// sign signs an outbound request with the shared key (draft-cavage,
// rsa-sha256, as Mastodon expects). body nil: a GET.
func (s *Service) sign(ctx context.Context, req *http.Request, keyID string, body []byte) error {
	k, err := s.privateKey(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Date", s.now().UTC().Format(http.TimeFormat))
	req.Header.Set("Host", req.URL.Host)
	headers := []string{httpsig.RequestTarget, "host", "date"}
	if body != nil {
		headers = append(headers, "digest")
	}
	signer, _, err := httpsig.NewSigner([]httpsig.Algorithm{httpsig.RSA_SHA256}, httpsig.DigestSha256, headers, httpsig.Signature, 0)
	if err != nil {
		return fmt.Errorf("federation: signer: %w", err)
	}
	if err := signer.SignRequest(k, keyID, req, body); err != nil {
		return fmt.Errorf("federation: sign: %w", err)
	}
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	return nil
}
