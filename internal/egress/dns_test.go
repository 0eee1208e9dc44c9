package egress

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
)

// fakeResolver returns a Go resolver that answers from names instead of asking
// a DNS server: each query is served in process over a net.Pipe (which the Go
// resolver speaks DNS-over-TCP framing to). Unknown names get NXDOMAIN. This
// lets a test make an innocent-looking name resolve to loopback, as a DNS
// rebinding attacker would, without any network.
func fakeResolver(names map[string][]netip.Addr) *net.Resolver {
	return fakeResolverFunc(func(name string, _ uint16) ([]netip.Addr, bool) {
		addrs, ok := names[name]
		return addrs, ok
	})
}

// answerFunc returns the addresses for a name and query type (1 = A,
// 28 = AAAA), and whether the name exists.
type answerFunc func(name string, qtype uint16) ([]netip.Addr, bool)

// fakeResolverFunc is fakeResolver with answers computed per query, for
// answers that change between lookups (DNS rebinding).
func fakeResolverFunc(answer answerFunc) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(_ context.Context, _, _ string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveFakeDNS(server, answer)
			return client, nil
		},
	}
}

func serveFakeDNS(conn net.Conn, answer answerFunc) {
	defer func() { _ = conn.Close() }()
	for {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, q); err != nil {
			return
		}
		resp := fakeDNSAnswer(q, answer)
		if resp == nil {
			return
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := conn.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// fakeDNSAnswer builds the reply to one single-question query.
func fakeDNSAnswer(q []byte, answer answerFunc) []byte {
	if len(q) < 12 {
		return nil
	}
	// Question name.
	var labels []string
	i := 12
	for {
		if i >= len(q) {
			return nil
		}
		n := int(q[i])
		i++
		if n == 0 {
			break
		}
		if i+n > len(q) {
			return nil
		}
		labels = append(labels, string(q[i:i+n]))
		i += n
	}
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	qEnd := i + 4
	name := strings.ToLower(strings.Join(labels, "."))

	addrs, known := answer(name, qtype)
	var answers [][]byte
	for _, a := range addrs {
		switch {
		case qtype == 1 && a.Is4():
			b := a.As4()
			answers = append(answers, b[:])
		case qtype == 28 && a.Is6():
			b := a.As16()
			answers = append(answers, b[:])
		}
	}

	resp := make([]byte, 0, 512)
	resp = append(resp, q[0], q[1]) // ID
	flags := uint16(0x8180)         // response, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)                    // QDCOUNT
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers))) // ANCOUNT
	resp = binary.BigEndian.AppendUint16(resp, 0)                    // NSCOUNT
	resp = binary.BigEndian.AppendUint16(resp, 0)                    // ARCOUNT
	resp = append(resp, q[12:qEnd]...)
	for _, rdata := range answers {
		resp = append(resp, 0xc0, 0x0c) // pointer to the question name
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = binary.BigEndian.AppendUint16(resp, 1) // class IN
		resp = binary.BigEndian.AppendUint32(resp, 0) // TTL
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
		resp = append(resp, rdata...)
	}
	return resp
}
