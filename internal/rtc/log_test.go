package rtc

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// TestLoggerQuietsClosedListeners: pion's "Error accepting connection: …
// use of closed network connection" (its TCP mux's listener, closed on
// every shutdown) and its warning about a UDP mux on all addresses (every
// default start) log at Debug; other messages keep their level, pion's
// errors at Warn.
func TestLoggerQuietsClosedListeners(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := LoggerFactory(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))).NewLogger("ice-tcp")
	closed := fmt.Errorf("accept tcp [::]:7881: %w", net.ErrClosed)
	l.Infof("Error accepting connection: %v", closed)
	l.Errorf("read: %v", closed)
	l.Info("closed: " + closed.Error())
	l.Warn("UDPMuxDefault should not listening on unspecified address, use NewMultiUDPMuxFromPort instead")
	if buf.Len() != 0 {
		t.Fatalf("a closed listener logged at Info or above: %s", buf.String())
	}
	l.Infof("listening on %s", "[::]:7881")
	l.Errorf("handshake: %s", "bad credentials")
	out := buf.String()
	if !strings.Contains(out, "level=INFO msg=\"listening on [::]:7881\"") || !strings.Contains(out, "level=WARN msg=\"handshake: bad credentials\"") {
		t.Fatalf("other messages lost or moved: %s", out)
	}
}
