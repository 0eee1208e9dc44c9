package egress

import (
	"errors"
	"net/netip"
	"testing"
)

// TestCheckAddr is the address policy on its own. It covers perf.md §6.2
// item 12 (CVE-2026-2455: IPv4-mapped IPv6 not canonicalised, IPv6 loopback,
// 0.0.0.0) and item 20 (Synapse #5134: 0.0.0.0 and :: must be refused).
func TestCheckAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr         string
		allowed      bool // default policy
		allowPrivate bool // with AllowPrivate
	}{
		// Public unicast.
		{"8.8.8.8", true, true},
		{"1.1.1.1", true, true},
		{"93.184.215.14", true, true},
		{"2606:4700:4700::1111", true, true},
		{"2a00:1450:4001:82b::200e", true, true},
		{"::ffff:8.8.8.8", true, true},   // mapped public is public
		{"64:ff9b::808:808", true, true}, // NAT64 of 8.8.8.8

		// Item 12: loopback in every spelling.
		{"127.0.0.1", false, false},
		{"127.255.255.254", false, false},
		{"::1", false, false},
		{"::ffff:127.0.0.1", false, false}, // CVE-2026-2455
		{"::ffff:7f00:1", false, false},    // same, hex
		{"::127.0.0.1", false, false},      // IPv4-compatible
		{"64:ff9b::7f00:1", false, false},  // NAT64 of 127.0.0.1
		{"0:0:0:0:0:ffff:127.0.0.1", false, false},

		// Item 12 / 20: unspecified.
		{"0.0.0.0", false, false},
		{"0.1.2.3", false, false},
		{"::", false, false},
		{"::ffff:0.0.0.0", false, false},

		// Link-local and cloud metadata.
		{"169.254.169.254", false, false},
		{"::ffff:169.254.169.254", false, false}, // CVE-2026-2455
		{"64:ff9b::a9fe:a9fe", false, false},     // NAT64 of 169.254.169.254
		{"169.254.1.1", false, false},
		{"fe80::1", false, false},
		{"fe80::1%eth0", false, false},
		{"fd00:ec2::254", false, false},   // AWS IPv6 metadata: refused even with AllowPrivate
		{"100.100.100.200", false, false}, // Alibaba metadata: refused even with AllowPrivate

		// Private: refused by default, allowed with AllowPrivate.
		{"10.0.0.1", false, true},
		{"172.16.0.1", false, true},
		{"172.31.255.255", false, true},
		{"192.168.1.1", false, true},
		{"100.64.0.1", false, true}, // CGNAT
		{"fc00::1", false, true},
		{"fd12:3456::1", false, true},
		{"::ffff:10.0.0.1", false, true},
		{"::ffff:192.168.0.1", false, true},
		{"64:ff9b::a00:1", false, true}, // NAT64 of 10.0.0.1
		{"172.32.0.1", true, true},      // just outside 172.16/12

		// Other special ranges.
		{"224.0.0.1", false, false},       // multicast
		{"239.255.255.250", false, false}, // multicast (SSDP)
		{"255.255.255.255", false, false}, // broadcast
		{"240.0.0.1", false, false},       // reserved
		{"198.18.0.1", false, false},      // benchmarking
		{"198.19.255.255", false, false},  // benchmarking
		{"192.0.2.1", false, false},       // documentation
		{"198.51.100.1", false, false},    // documentation
		{"203.0.113.1", false, false},     // documentation
		{"192.0.0.1", false, false},       // IETF protocol assignments
		{"192.88.99.1", false, false},     // 6to4 relay
		{"ff02::1", false, false},         // multicast
		{"2001:db8::1", false, false},     // documentation
		{"3fff::1", false, false},         // documentation
		{"2002:7f00:1::1", false, false},  // 6to4 of 127.0.0.1
		{"2001::1", false, false},         // Teredo
		{"fec0::1", false, false},         // site-local
		{"100::1", false, false},          // discard-only
		{"64:ff9b:1::1", false, false},    // local-use NAT64
		{"5f00::1", false, false},         // SRv6
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			a := netip.MustParseAddr(tt.addr)
			for _, allowPrivate := range []bool{false, true} {
				want := tt.allowed
				if allowPrivate {
					want = tt.allowPrivate
				}
				err := checkAddr(a, allowPrivate)
				if got := err == nil; got != want {
					t.Errorf("checkAddr(%s, allowPrivate=%v) = %v, want allowed=%v", a, allowPrivate, err, want)
				}
				// The exported form (the TURN relay's peers) is the same rule.
				if xerr := CheckAddr(a, allowPrivate); (xerr == nil) != want || (xerr != nil && !errors.Is(xerr, ErrForbiddenAddress)) {
					t.Errorf("CheckAddr(%s, allowPrivate=%v) = %v, want allowed=%v", a, allowPrivate, xerr, want)
				}
				if err != nil && !errors.Is(err, ErrForbiddenAddress) {
					t.Errorf("checkAddr(%s) error %v does not wrap ErrForbiddenAddress", a, err)
				}
			}
		})
	}
}

func TestCheckAddrInvalid(t *testing.T) {
	t.Parallel()
	if err := checkAddr(netip.Addr{}, true); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("zero Addr: got %v, want ErrForbiddenAddress", err)
	}
}

// TestAllowAddrHook: the hook is asked with the address and port, and only an
// exact match is let through.
func TestAllowAddrHook(t *testing.T) {
	t.Parallel()
	want := netip.MustParseAddrPort("127.0.0.1:8080")
	p := addrPolicy{allowAddr: func(ap netip.AddrPort) bool { return ap == want }}
	if err := p.check(want); err != nil {
		t.Errorf("hooked address refused: %v", err)
	}
	for _, s := range []string{"127.0.0.1:8081", "127.0.0.2:8080", "[::1]:8080"} {
		if err := p.check(netip.MustParseAddrPort(s)); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: got %v, want ErrForbiddenAddress", s, err)
		}
	}
}
