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
