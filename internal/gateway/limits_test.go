package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
)

// TestFragmentLengthCannotWrapTheLimit shows that a continuation frame
// declaring a length near 2^63 after a first fragment is refused by the
// read limit. The limit used to be checked as gathered + declared, which
// wraps negative for such a length and passed; the frame's length then sized
// the read buffer, and the node panicked (growslice: len out of range) on
// two frames any chat guest could send.
func TestFragmentLengthCannotWrapTheLimit(t *testing.T) {
	t.Parallel()
	for _, declared := range []int64{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 - 14, 1024} {
		t.Run(fmt.Sprint(declared), func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, serverOpts{cfg: Config{ReadLimit: 1024}})
			addr := ts.srv.Listener.Addr().String()
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = nc.Close() })
			fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
			br := bufio.NewReader(nc)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %s", resp.Status)
			}
			first := ws.MaskFrameInPlace(ws.NewFrame(ws.OpText, false, []byte("x")))
			if err := ws.WriteFrame(nc, first); err != nil {
				t.Fatal(err)
			}
			// The continuation's header only, then some of its bytes.
			h := ws.Header{OpCode: ws.OpContinuation, Length: declared, Masked: true, Mask: ws.NewMask()}
			if err := ws.WriteHeader(nc, h); err != nil {
				t.Fatal(err)
			}
			_, _ = nc.Write(make([]byte, 4096))

			_ = nc.SetReadDeadline(time.Now().Add(guard))
			fh, err := ws.ReadHeader(br)
			if err != nil {
				t.Fatalf("reading the close: %v", err)
			}
			if fh.OpCode != ws.OpClose {
				t.Fatalf("first frame %v, want a close", fh.OpCode)
			}
			p := make([]byte, fh.Length)
			if _, err := br.Read(p); err != nil {
				t.Fatal(err)
			}
			if code, _ := ws.ParseCloseFrameData(p); code != ws.StatusMessageTooBig {
				t.Fatalf("close code %d, want 1009", code)
			}
			if err := ts.runErr(t); !errors.Is(err, websocket.ErrMessageTooBig) {
				t.Fatalf("Run = %v, want ErrMessageTooBig", err)
			}
		})
	}
}
