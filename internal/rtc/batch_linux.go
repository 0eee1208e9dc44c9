//go:build linux

package rtc

import (
	"encoding/binary"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSender sends queued packets with sendmmsg(2). It is written here
// rather than with golang.org/x/net's ipv4/ipv6 WriteBatch because those
// marshal an IPv4 destination as AF_INET, which a dual-stack socket (the
// default ":7882" listens on one) refuses: here IPv4 destinations of an
// AF_INET6 socket are sent to as IPv4-mapped IPv6 addresses.
type batchSender struct {
	raw   syscall.RawConn
	inet6 bool // the socket is AF_INET6 (dual-stack or IPv6 only)

	// Reused between sends; only touched under batchConn.mu.
	hs    []mmsghdr
	iovs  []unix.Iovec
	names [][unix.SizeofSockaddrInet6]byte
}

// mmsghdr is struct mmsghdr: a msghdr and the count the kernel sent (Go
// pads it to the C layout on every Linux architecture).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// newBatchSender returns nil where the socket cannot be used raw.
func newBatchSender(c *net.UDPConn) *batchSender {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	family := -1
	if err := raw.Control(func(fd uintptr) {
		family, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN) //nolint:gosec // file descriptors fit in int
	}); err != nil || (family != unix.AF_INET && family != unix.AF_INET6) {
		return nil
	}
	return &batchSender{raw: raw, inet6: family == unix.AF_INET6,
		hs: make([]mmsghdr, maxBatch), iovs: make([]unix.Iovec, maxBatch), names: make([][unix.SizeofSockaddrInet6]byte, maxBatch)}
}

// send writes q (at most maxBatch packets). A packet the kernel refuses
// (an address of the wrong family, a full buffer) is dropped as a failed
// sendto would be: UDP media recovers with NACKs and keyframes.
func (s *batchSender) send(q []queued) {
	n := 0
	for _, p := range q {
		namelen := s.sockaddr(&s.names[n], p)
		if namelen == 0 {
			continue
		}
		iov := &s.iovs[n]
		iov.Base = unsafe.SliceData(p.b)
		iov.SetLen(len(p.b))
		h := &s.hs[n].hdr
		*h = unix.Msghdr{Name: &s.names[n][0], Namelen: namelen, Iov: iov}
		h.SetIovlen(1)
		n++
	}
	for sent := 0; sent < n; {
		var r uintptr
		var errno syscall.Errno
		err := s.raw.Write(func(fd uintptr) bool {
			r, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.hs[sent])), uintptr(n-sent), 0, 0, 0)
			return errno != unix.EAGAIN
		})
		switch {
		case err != nil: // the socket is closed
			return
		case errno == unix.EINTR:
		case errno != 0:
			sent++ // the first packet was refused: drop it, send the rest
		default:
			sent += int(r)
		}
	}
}

// sockaddr writes p's destination as a struct sockaddr for the socket's
// family and returns its length, 0 when the socket cannot reach it.
func (s *batchSender) sockaddr(b *[unix.SizeofSockaddrInet6]byte, p queued) uint32 {
	ip := p.addr.Addr()
	*b = [unix.SizeofSockaddrInet6]byte{}
	binary.BigEndian.PutUint16(b[2:4], p.addr.Port())
	if !s.inet6 {
		if !ip.Unmap().Is4() {
			return 0
		}
		binary.NativeEndian.PutUint16(b[0:2], unix.AF_INET)
		a := ip.Unmap().As4()
		copy(b[4:8], a[:])
		return unix.SizeofSockaddrInet4
	}
	binary.NativeEndian.PutUint16(b[0:2], unix.AF_INET6)
	a := ip.As16() // an IPv4 address comes out IPv4-mapped
	copy(b[8:24], a[:])
	if z := ip.Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			binary.NativeEndian.PutUint32(b[24:28], uint32(ifi.Index)) //nolint:gosec // interface indexes are small
		}
	}
	return unix.SizeofSockaddrInet6
}
