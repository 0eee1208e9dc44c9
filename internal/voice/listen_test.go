package voice

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
)

// TestListenBothRetries: when the port the OS picked for UDP is taken for
// TCP, listenBoth picks another one instead of failing.
func TestListenBothRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		taken    int // TCP binds that fail with EADDRINUSE
		listen   string
		wantFail bool
	}{
		{"first try", 0, "127.0.0.1:0", false},
		{"taken twice", 2, "127.0.0.1:0", false},
		{"always taken", 1 << 20, "127.0.0.1:0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tcpTries := 0
			lc := &net.ListenConfig{Control: func(network, _ string, _ syscall.RawConn) error {
				if network[:3] != "tcp" {
					return nil
				}
				tcpTries++
				if tcpTries <= tc.taken {
					return syscall.EADDRINUSE
				}
				return nil
			}}
			udp, tcp, port, err := listenBoth(context.Background(), lc, "127.0.0.1", tc.listen)
			if tc.wantFail {
				if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
					t.Fatalf("err = %v, want EADDRINUSE after %d tries", err, bindAttempts)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer udp.Close()
			defer tcp.Close()
			if got := tcp.Addr().(*net.TCPAddr).Port; got != port || udp.LocalAddr().(*net.UDPAddr).Port != port {
				t.Fatalf("ports: udp %v tcp %v, reported %s", udp.LocalAddr(), tcp.Addr(), strconv.Itoa(port))
			}
		})
	}
}
