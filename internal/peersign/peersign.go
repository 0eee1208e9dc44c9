// Package peersign signs and checks the URLs the nodes of a cluster fetch
// each other's files with when S3 is off (a recording's files, a clip's
// MP4, a live stage's HLS), and the short-lived URLs a member's browser
// plays a clip's MP4 at or downloads a recording's MP4 from, and a private
// stage channel's HLS path token: a query of exp (Unix seconds) and sig,
// the hex HMAC-SHA256 under a key every node shares of a label naming the
// kind of URL, the parts it names (an id, a file name, an account) and exp.
// The label keeps a signature made for one kind of URL from opening
// another. Proxy (proxy.go) is the one bounded client the nodes fetch
// those URLs with on a client's behalf.
package peersign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TTL is how long a signed URL is made to last. A URL is taken until its
// exp and with an exp at most 2 × TTL ahead, for clocks that disagree.
const TTL = time.Minute

// Query is the exp and sig of a URL naming parts under label, made at now.
func Query(key []byte, label string, now time.Time, parts ...string) url.Values {
	return QueryFor(key, label, now, TTL, parts...)
}

// Valid reports whether exp and sig sign parts under label with key and
// exp has not passed at now. An empty key signs nothing.
func Valid(key []byte, label string, now time.Time, exp, sig string, parts ...string) bool {
	return ValidFor(key, label, now, TTL, exp, sig, parts...)
}

// QueryFor is Query for a URL made to last ttl.
func QueryFor(key []byte, label string, now time.Time, ttl time.Duration, parts ...string) url.Values {
	exp := strconv.FormatInt(now.Add(ttl).Unix(), 10)
	return url.Values{"exp": {exp}, "sig": {sign(key, label, exp, parts)}}
}

// ValidFor is Valid for URLs made by QueryFor with ttl: one with an exp
// more than 2 × ttl ahead is refused.
func ValidFor(key []byte, label string, now time.Time, ttl time.Duration, exp, sig string, parts ...string) bool {
	if len(key) == 0 {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > t || t > now.Add(2*ttl).Unix() {
		return false
	}
	return hmac.Equal([]byte(sign(key, label, exp, parts)), []byte(sig))
}

func sign(key []byte, label, exp string, parts []string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label + "\n" + strings.Join(parts, "\n") + "\n" + exp))
	return hex.EncodeToString(m.Sum(nil))
}
