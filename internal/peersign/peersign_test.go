package peersign_test

import (
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/peersign"
)

// TestValid: a URL's own signature is taken until it expires; another
// label, other parts, another key, a forged or far-future exp and an empty
// key are not.
func TestValid(t *testing.T) {
	t.Parallel()
	key, now := []byte("cluster key"), time.Unix(1_800_000_000, 0)
	q := peersign.Query(key, "kind", now, "id", "name")
	exp, sig := q.Get("exp"), q.Get("sig")
	if !peersign.Valid(key, "kind", now, exp, sig, "id", "name") {
		t.Fatal("its own signature refused")
	}
	if !peersign.Valid(key, "kind", now.Add(peersign.TTL), exp, sig, "id", "name") {
		t.Fatal("refused at its expiry")
	}
	far := peersign.Query(key, "kind", now.Add(3*peersign.TTL), "id", "name")
	for what, ok := range map[string]bool{
		"expired":          peersign.Valid(key, "kind", now.Add(peersign.TTL+time.Second), exp, sig, "id", "name"),
		"other label":      peersign.Valid(key, "other", now, exp, sig, "id", "name"),
		"other id":         peersign.Valid(key, "kind", now, exp, sig, "id2", "name"),
		"other name":       peersign.Valid(key, "kind", now, exp, sig, "id", "name2"),
		"other key":        peersign.Valid([]byte("another"), "kind", now, exp, sig, "id", "name"),
		"no key":           peersign.Valid(nil, "kind", now, exp, peersign.Query(nil, "kind", now, "id", "name").Get("sig"), "id", "name"),
		"forged":           peersign.Valid(key, "kind", now, exp, "00", "id", "name"),
		"exp not a number": peersign.Valid(key, "kind", now, "x", sig, "id", "name"),
		"too far ahead":    peersign.Valid(key, "kind", now, far.Get("exp"), far.Get("sig"), "id", "name"),
	} {
		if ok {
			t.Errorf("%s: taken", what)
		}
	}
}

// TestValidFor: a URL made to last longer is taken for its own lifetime,
// and with its own bound on how far ahead its exp may be.
func TestValidFor(t *testing.T) {
	t.Parallel()
	key, now, ttl := []byte("cluster key"), time.Unix(1_800_000_000, 0), 5*time.Minute
	q := peersign.QueryFor(key, "kind", now, ttl, "id", "account")
	exp, sig := q.Get("exp"), q.Get("sig")
	if !peersign.ValidFor(key, "kind", now.Add(ttl), ttl, exp, sig, "id", "account") {
		t.Fatal("refused at its expiry")
	}
	if peersign.ValidFor(key, "kind", now.Add(ttl+time.Second), ttl, exp, sig, "id", "account") {
		t.Fatal("taken after its expiry")
	}
	if peersign.Valid(key, "kind", now, exp, sig, "id", "account") {
		t.Fatal("taken as a one-minute URL with an exp five minutes ahead")
	}
	far := peersign.QueryFor(key, "kind", now.Add(2*ttl), ttl, "id", "account")
	if peersign.ValidFor(key, "kind", now, ttl, far.Get("exp"), far.Get("sig"), "id", "account") {
		t.Fatal("too far ahead: taken")
	}
}
