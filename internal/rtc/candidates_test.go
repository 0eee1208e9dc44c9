package rtc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestCandidatesBounded: a description or trickle may name at most
// MaxRemoteCandidates distinct addresses; the same address named again
// (another foundation, priority or media section) is not another, and a
// candidate that does not parse is left to pion.
func TestCandidatesBounded(t *testing.T) {
	t.Parallel()
	desc := func(addrs, lines int) string {
		var b strings.Builder
		b.WriteString("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n")
		for i := range lines {
			fmt.Fprintf(&b, "a=candidate:%d 1 udp %d 10.0.0.1 %d typ host\r\n", i, 2130706431-i, 40000+i%addrs)
		}
		return b.String()
	}
	for _, tc := range []struct {
		addrs, lines int
		ok           bool
	}{{1, 1, true}, {MaxRemoteCandidates, MaxRemoteCandidates, true}, {MaxRemoteCandidates, 900, true},
		{MaxRemoteCandidates + 1, MaxRemoteCandidates + 1, false}, {900, 900, false}} {
		err := CheckCandidates(nil, desc(tc.addrs, tc.lines))
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrTooManyCandidates)) {
			t.Errorf("%d addresses in %d lines: %v, want ok %v", tc.addrs, tc.lines, err, tc.ok)
		}
	}

	var cs Candidates
	for i := range MaxRemoteCandidates {
		if !cs.Add(fmt.Sprintf("candidate:1 1 UDP 1 192.0.2.1 %d typ host", 5000+i)) {
			t.Fatalf("candidate %d refused", i+1)
		}
	}
	if cs.Add("candidate:1 1 udp 1 192.0.2.1 5999 typ host") {
		t.Fatal("a candidate past the bound was let through")
	}
	if !cs.Add("a=candidate:9 1 udp 7 192.0.2.1 5000 typ host") {
		t.Fatal("an address already counted was refused")
	}
	if !cs.Add("candidate:1 1 tcp") {
		t.Fatal("an unparsable candidate was refused (pion refuses it)")
	}
	if err := CheckCandidates(&cs, desc(1, 1)); !errors.Is(err, ErrTooManyCandidates) {
		t.Fatalf("a description after the trickled bound: %v", err)
	}
}
