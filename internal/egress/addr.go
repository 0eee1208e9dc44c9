package egress

import (
	"fmt"
	"net/netip"
)

// The address policy. An address is refused unless it is ordinary public
// unicast. The tables are immutable; they are package-level only so that they
// are built once.
//
// Order of the check (see checkAddr):
//  1. IPv4-mapped IPv6 (::ffff:a.b.c.d) is canonicalised to IPv4 with Unmap
//     (CVE-2026-2455: [::ffff:127.0.0.1] must be treated as 127.0.0.1).
//  2. NAT64 well-known prefix 64:ff9b::/96 is judged by the IPv4 address it
//     embeds (64:ff9b::7f00:1 reaches 127.0.0.1 through a NAT64 gateway).
//  3. Cloud metadata endpoints are refused always (AllowPrivate does not
//     unlock them).
//  4. With AllowPrivate, the private-use ranges in privateTable are allowed.
//  5. IPv4: refused if in deniedV4. IPv6: refused unless inside 2000::/3
//     (the only global unicast space; this takes out ::/8 with IPv4-compatible
//     addresses, ::1, ::, fc00::/7, fe80::/10, fec0::/10, ff00::/8, 100::/64,
//     64:ff9b:1::/48, 5f00::/16 and everything unallocated), and refused if in
//     deniedV6.

// metadataTable lists cloud instance-metadata addresses. They are refused even
// when the operator allows private addresses.
var metadataTable = []netip.Prefix{
	netip.MustParsePrefix("169.254.169.254/32"), // AWS, GCP, Azure, Oracle, DigitalOcean, ...
	netip.MustParsePrefix("169.254.170.2/32"),   // AWS ECS task metadata
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud (inside CGNAT space)
	netip.MustParsePrefix("192.0.0.192/32"),     // Oracle Cloud
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS IPv6 (inside ULA space)
}

// privateTable lists the private-use ranges that Config.AllowPrivate opens.
// Loopback, link-local and the other special ranges stay refused; an operator
// who needs one of them uses Config.AllowAddr.
var privateTable = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),     // RFC 1918
	netip.MustParsePrefix("172.16.0.0/12"),  // RFC 1918
	netip.MustParsePrefix("192.168.0.0/16"), // RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),  // RFC 6598 shared address space (CGNAT)
	netip.MustParsePrefix("fc00::/7"),       // RFC 4193 unique local
}

// deniedV4 is every IPv4 special-purpose range that is not public unicast
// (IANA IPv4 Special-Purpose Address Registry), plus multicast and class E.
var deniedV4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network", includes 0.0.0.0
	netip.MustParsePrefix("10.0.0.0/8"),      // private
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),   // private
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments (DS-Lite, NAT64 discovery, ...)
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1 documentation
	netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast
	netip.MustParsePrefix("192.168.0.0/16"),  // private
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2 documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3 documentation
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, includes 255.255.255.255 broadcast
}

// globalV6 is the IPv6 global unicast space; anything outside it is refused.
var globalV6 = netip.MustParsePrefix("2000::/3")

// nat64 is the well-known NAT64 prefix (RFC 6052); its last 32 bits are an
// IPv4 address, which decides.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// deniedV6 is the special-purpose space inside 2000::/3.
var deniedV6 = []netip.Prefix{
	netip.MustParsePrefix("2001::/23"),     // IETF protocol assignments: Teredo, benchmarking 2001:2::/48, ORCHID
	netip.MustParsePrefix("2001:db8::/32"), // documentation
	netip.MustParsePrefix("2002::/16"),     // 6to4: embeds an IPv4 address; deprecated (RFC 7526)
	netip.MustParsePrefix("3fff::/20"),     // documentation (RFC 9637)
}

// addrPolicy is the part of Config that decides which addresses may be
// dialled.
type addrPolicy struct {
	allowPrivate bool
	allowAddr    func(netip.AddrPort) bool
}

// check returns nil if ap may be connected to, or an error wrapping
// ErrForbiddenAddress.
func (p addrPolicy) check(ap netip.AddrPort) error {
	if p.allowAddr != nil && p.allowAddr(ap) {
		return nil
	}
	if err := checkAddr(ap.Addr(), p.allowPrivate); err != nil {
		return fmt.Errorf("%w: %s", err, ap)
	}
	return nil
}

// CheckAddr applies the address policy to one address, for traffic that
// does not go through a Client but must keep to the same rule (the TURN
// relay's peers): nil when a is ordinary public unicast, else an error
// wrapping ErrForbiddenAddress. allowPrivate opens the private-use ranges as
// Config.AllowPrivate does.
func CheckAddr(a netip.Addr, allowPrivate bool) error {
	if err := checkAddr(a, allowPrivate); err != nil {
		return fmt.Errorf("%w: %s", err, a)
	}
	return nil
}

// checkAddr applies the address policy to a. It returns nil or
// ErrForbiddenAddress.
func checkAddr(a netip.Addr, allowPrivate bool) error {
	if !a.IsValid() {
		return ErrForbiddenAddress
	}
	if a.Zone() != "" {
		// Only non-global (link-local) addresses carry zones.
		return ErrForbiddenAddress
	}
	a = a.Unmap()
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		return checkAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), allowPrivate)
	}
	if inAny(metadataTable, a) {
		return ErrForbiddenAddress
	}
	if allowPrivate && inAny(privateTable, a) {
		return nil
	}
	if a.Is4() {
		if inAny(deniedV4, a) {
			return ErrForbiddenAddress
		}
		return nil
	}
	if !globalV6.Contains(a) || inAny(deniedV6, a) {
		return ErrForbiddenAddress
	}
	return nil
}

func inAny(table []netip.Prefix, a netip.Addr) bool {
	for _, p := range table {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
