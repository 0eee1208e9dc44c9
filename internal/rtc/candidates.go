package rtc

import (
	"errors"
	"fmt"
	"strings"
)

// MaxRemoteCandidates bounds the distinct addresses (transport, address,
// port) a remote peer's ICE candidates may name on one connection, in its
// description and trickled after it. The server's ICE agent sends
// connectivity checks (STUN binding requests) to every address it is
// given, about sixteen to each, and the addresses are the client's to
// choose: a WHEP offer (no account needed) of 64 KiB named 900 and made the
// node send 14,400 UDP packets to them, loopback and private addresses
// included, and took 0.8 s to answer. A browser names a few per network
// interface (host, server-reflexive, relay; UDP and TCP).
const MaxRemoteCandidates = 32

// ErrTooManyCandidates refuses a description or a trickled candidate past
// MaxRemoteCandidates.
var ErrTooManyCandidates = errors.New("too many ICE candidates")

// Candidates counts the distinct addresses of one connection's remote
// candidates. The zero value is ready; it is not safe for concurrent use.
type Candidates struct {
	seen map[string]struct{}
}

// Add counts the candidate c (an SDP candidate value, with or without the
// "a=" or "candidate:" prefix) and reports whether it is within
// MaxRemoteCandidates: one naming an address already counted always is.
// A candidate that does not parse is let through (pion refuses it).
func (cs *Candidates) Add(c string) bool {
	k, ok := candidateKey(c)
	if !ok {
		return true
	}
	if _, dup := cs.seen[k]; dup {
		return true
	}
	if len(cs.seen) >= MaxRemoteCandidates {
		return false
	}
	if cs.seen == nil {
		cs.seen = map[string]struct{}{}
	}
	cs.seen[k] = struct{}{}
	return true
}

// CheckCandidates refuses (ErrTooManyCandidates) a session description
// whose candidates name more than MaxRemoteCandidates distinct addresses,
// counting them into cs (nil: a fresh count).
func CheckCandidates(cs *Candidates, sdp string) error {
	if cs == nil {
		cs = &Candidates{}
	}
	for line := range strings.Lines(sdp) {
		line = strings.TrimRight(line, "\r\n")
		if !strings.HasPrefix(line, "a=candidate:") {
			continue
		}
		if !cs.Add(line) {
			return fmt.Errorf("%w: at most %d addresses", ErrTooManyCandidates, MaxRemoteCandidates)
		}
	}
	return nil
}

// candidateKey is "transport address port" of an SDP candidate value
// (RFC 8839: foundation component transport priority address port typ …).
func candidateKey(c string) (string, bool) {
	c = strings.TrimPrefix(c, "a=")
	c = strings.TrimPrefix(c, "candidate:")
	f := strings.Fields(c)
	if len(f) < 6 {
		return "", false
	}
	return strings.ToLower(f[2]) + " " + strings.ToLower(f[4]) + " " + f[5], true
}
