package gateway

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
)

// corkConn sits between the WebSocket library and the TCP connection. While
// corked (the writer goroutine is encoding a batch) writes are gathered in
// memory; uncork hands them to the kernel in one write. So a batch of N
// one-message frames (Together, OTT) costs one syscall, not N. Writes from
// other goroutines (pongs, pings) that arrive while corked join the batch in
// order; the library serialises frame writes, and mu keeps a direct write
// from interleaving with a flush.
type corkConn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    []byte
}

func (cc *corkConn) Write(p []byte) (int, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.corked {
		cc.buf = append(cc.buf, p...)
		return len(p), nil
	}
	n, err := cc.Conn.Write(p)
	if err != nil {
		return n, fmt.Errorf("gateway: socket write: %w", err)
	}
	return n, nil
}

func (cc *corkConn) cork() {
	cc.mu.Lock()
	cc.corked = true
	cc.mu.Unlock()
}

// uncork writes what was gathered (under the write deadline already set) and
// returns to direct writes.
func (cc *corkConn) uncork() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.corked = false
	if len(cc.buf) == 0 {
		return nil
	}
	_, err := cc.Conn.Write(cc.buf)
	if cap(cc.buf) > keepScratchBytes {
		cc.buf = nil
	} else {
		cc.buf = cc.buf[:0]
	}
	if err != nil {
		return fmt.Errorf("gateway: socket write: %w", err)
	}
	return nil
}

// hijackCapture hands websocket.Accept a corkConn instead of the raw
// connection, and keeps it, so the gateway can also set deadlines on it
// (bounded writes and close handshakes) and force it closed.
type hijackCapture struct {
	http.ResponseWriter
	conn *corkConn
}

func (hc *hijackCapture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(hc.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: hijack: %w", err)
	}
	if err := brw.Writer.Flush(); err != nil {
		_ = nc.Close()
		return nil, nil, fmt.Errorf("gateway: hijack: flush: %w", err)
	}
	hc.conn = &corkConn{Conn: nc}
	brw.Writer.Reset(hc.conn)
	return hc.conn, brw, nil
}

func (hc *hijackCapture) Unwrap() http.ResponseWriter { return hc.ResponseWriter }

// canHijack reports whether w (or a writer it wraps) can be hijacked, as
// websocket.Accept requires; hijackCapture always claims it can.
func canHijack(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}
