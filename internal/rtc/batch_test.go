package rtc

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// TestBatchedSends: packets written inside a batch all arrive, intact and
// in order, once it ends — more than one sendmmsg's worth, on an IPv4
// socket and on a dual-stack one (":0", where IPv4 destinations must be
// sent to as IPv4-mapped addresses), and writes outside a batch go out at
// once as before.
func TestBatchedSends(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:0", ":0"} {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()
			p, err := New(Config{UDPAddr: addr}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			if runtime.GOOS == "linux" && p.udp.out == nil {
				t.Fatal("no sendmmsg on Linux")
			}
			rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rx.Close() })
			_ = rx.SetReadBuffer(4 << 20)
			to := rx.LocalAddr().(*net.UDPAddr).AddrPort()

			const n = 2*maxBatch + 7
			p.BeginBatch()
			for i := range n {
				msg := []byte(fmt.Sprintf("packet %d", i))
				var err error
				if i%2 == 0 {
					_, err = p.udp.WriteToAddrPort(msg, to)
				} else {
					_, err = p.udp.WriteTo(msg, net.UDPAddrFromAddrPort(to))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			p.EndBatch()
			_, _ = p.udp.WriteToAddrPort([]byte("after"), to)

			buf := make([]byte, 1500)
			for i := range n + 1 {
				if err := rx.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
					t.Fatal(err)
				}
				m, from, err := rx.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				want := fmt.Sprintf("packet %d", i)
				if i == n {
					want = "after"
				}
				if got := string(buf[:m]); got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
				if from.Port() != p.udp.LocalAddr().(*net.UDPAddr).AddrPort().Port() || from.Addr().Unmap() != netip.MustParseAddr("127.0.0.1") {
					t.Fatalf("from %v, want the plane's socket", from)
				}
			}
		})
	}
}

// TestOverlappingBatches: batches are plane-wide, and two fan-outs (two
// publishers' goroutines) may overlap. A packet written while both are
// open leaves when the first of them ends, not when the last does; once
// both have ended, writes go out at once again.
func TestOverlappingBatches(t *testing.T) {
	t.Parallel()
	p, err := New(Config{UDPAddr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if p.udp.out == nil {
		t.Skip("no sendmmsg on this system: batches are no-ops")
	}
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rx.Close() })
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	recv := func(want string) {
		t.Helper()
		buf := make([]byte, 1500)
		if err := rx.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
			t.Fatal(err)
		}
		m, _, err := rx.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("waiting for %q: %v", want, err)
		}
		if got := string(buf[:m]); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	aOpen, endA, aDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	p.BeginBatch() // B, on this goroutine
	go func() {    // A, on another
		defer close(aDone)
		p.BeginBatch()
		close(aOpen)
		<-endA
		p.EndBatch()
	}()
	<-aOpen
	if _, err := p.udp.WriteToAddrPort([]byte("in both"), to); err != nil {
		t.Fatal(err)
	}
	close(endA)
	<-aDone
	recv("in both") // A's end sent it while B is still open
	if _, err := p.udp.WriteToAddrPort([]byte("in B"), to); err != nil {
		t.Fatal(err)
	}
	p.EndBatch()
	recv("in B")
	p.udp.mu.Lock()
	open, queued := p.udp.open, len(p.udp.q)
	p.udp.mu.Unlock()
	if open != 0 || queued != 0 {
		t.Fatalf("after both ended: %d batches open, %d packets queued", open, queued)
	}
	if _, err := p.udp.WriteToAddrPort([]byte("after"), to); err != nil {
		t.Fatal(err)
	}
	recv("after")
}
