package egress

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// CheckURL validates a user-supplied URL under the default policy (no private
// addresses, no test hook) and returns it parsed. Use it to reject bad input
// early, e.g. when a webhook is registered; use (*Client).CheckURL when the
// operator's AllowPrivate/AllowAddr settings should count.
//
// This is a pre-check only. It does not resolve names: the address a name
// resolves to is checked when the connection is made (see Client).
func CheckURL(raw string) (*url.URL, error) {
	return checkRawURL(raw, addrPolicy{})
}

// CheckURL validates raw under c's policy and returns it parsed. It refuses:
//   - schemes other than http and https (and opaque forms such as "http:x");
//   - userinfo ("http://user:pass@host/");
//   - an empty host, port 0 or a non-numeric port;
//   - "localhost" and names under ".localhost" (RFC 6761: always loopback);
//   - IP-literal hosts in refused ranges, including IPv4-mapped IPv6;
//   - hosts that end in a number but are not a canonical dotted quad:
//     decimal "2130706433", octal "0177.0.0.1", hex "0x7f.1", short "127.1".
//     Go does not parse these as addresses, but inet_aton, glibc and browsers
//     do, so they are ambiguous at best and an SSRF trick at worst.
//
// Any port is allowed: the address check is what protects internal services,
// and public services legitimately run on non-default ports.
//
// The returned URL's String() form starts with "http://" or "https://", so it
// can be handed to another program as one argument without being mistaken for
// an option.
func (c *Client) CheckURL(raw string) (*url.URL, error) {
	return checkRawURL(raw, c.policy)
}

func checkRawURL(raw string, p addrPolicy) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	if err := checkURL(u, p); err != nil {
		return nil, err
	}
	return u, nil
}

// checkURL applies the URL rules to an already parsed URL; Client.Do and each
// redirect hop use it.
func checkURL(u *url.URL, p addrPolicy) error {
	if u == nil {
		return fmt.Errorf("%w: nil URL", ErrInvalidURL)
	}
	var defaultPort uint16
	switch strings.ToLower(u.Scheme) {
	case "http":
		defaultPort = 80
	case "https":
		defaultPort = 443
	default:
		return fmt.Errorf("%w: scheme %q is not http or https", ErrInvalidURL, u.Scheme)
	}
	if u.Opaque != "" {
		return fmt.Errorf("%w: opaque URL", ErrInvalidURL)
	}
	if u.User != nil {
		return fmt.Errorf("%w: userinfo is not allowed", ErrInvalidURL)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: empty host", ErrInvalidURL)
	}
	port := defaultPort
	if ps := u.Port(); ps != "" {
		n, err := strconv.ParseUint(ps, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%w: bad port %q", ErrInvalidURL, ps)
		}
		port = uint16(n)
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("%w: control character or space in host", ErrInvalidURL)
		}
	}

	// IP literal: "[::ffff:127.0.0.1]" arrives here as "::ffff:127.0.0.1".
	name := strings.TrimSuffix(host, ".")
	if a, err := netip.ParseAddr(name); err == nil {
		return p.check(netip.AddrPortFrom(a, port))
	}
	if strings.Contains(host, ":") || strings.Contains(host, "%") {
		// Something bracketed that is not a valid address.
		return fmt.Errorf("%w: bad IPv6 literal %q", ErrInvalidURL, host)
	}
	name = strings.ToLower(name)
	if endsInNumber(name) {
		return fmt.Errorf("%w: non-canonical numeric host %q", ErrForbiddenAddress, host)
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return fmt.Errorf("%w: %q is loopback", ErrForbiddenAddress, host)
	}
	return nil
}

// endsInNumber reports whether the last label of host is a number in any of
// the forms an IPv4 parser accepts (decimal, octal with a leading 0, hex with
// 0x). This is the WHATWG URL Standard's "ends in a number" test: such hosts
// are parsed as IPv4 by browsers and by inet_aton, never as DNS names (no
// top-level domain is numeric).
func endsInNumber(host string) bool {
	last := host
	if i := strings.LastIndexByte(host, '.'); i >= 0 {
		last = host[i+1:]
	}
	if last == "" {
		return false
	}
	if isDigits(last) {
		return true
	}
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		for i := 2; i < len(last); i++ {
			if !isHex(last[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
