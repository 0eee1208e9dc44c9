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
