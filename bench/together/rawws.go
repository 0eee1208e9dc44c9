package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// rawSocket is the driver's cheap WebSocket client for the sockets that do
// not measure. A real user's client is on its own machine; here 500 of them
// share the server's two cores, and a client that takes one read(2) per
// frame (40,000 a second) would use as much CPU as the server it measures.
// rawSocket drains its socket in one read every drain interval, walks the frame
// headers without decoding the payloads, answers pings (the server closes a
// socket that does not) and sends a HEARTBEAT every 30 s. The server's work
// is unchanged: it still writes every frame to every socket as it is sent.
type rawSocket struct {
	nc  net.Conn
	br  *bufio.Reader
	buf []byte
	// frame parser state, carried across reads
	hdr     []byte
	skip    int64 // payload bytes of the current frame still to skip
	ping    bool  // the current frame is a ping; its payload is collected
	payload []byte
	frames  *atomic.Int64 // every data frame read, across sockets
	closed  atomic.Bool
	ready   chan struct{} // if set: closed at the first data frame (READY)
}

func dialRaw(ctx context.Context, wsURL string, frames *atomic.Int64) (*rawSocket, error) {
	return dialRawFrom(ctx, wsURL, nil, 64<<10, frames)
}

// dialRawFrom is dialRaw from the local address local (nil: any), with
// bufSize bytes of read buffer.
func dialRawFrom(ctx context.Context, wsURL string, local net.IP, bufSize int, frames *atomic.Int64) (*rawSocket, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 30 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(key))
	if _, err := nc.Write([]byte(req)); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, bufSize)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("ws upgrade: %s", resp.Status)
	}
	return &rawSocket{nc: nc, br: br, buf: make([]byte, bufSize), frames: frames}, nil
}

// run drains the socket until ctx ends or the connection fails.
func (s *rawSocket) run(ctx context.Context, drain time.Duration) error {
	defer s.nc.Close()
	go func() {
		<-ctx.Done()
		_ = s.nc.SetReadDeadline(time.Now())
	}()
	lastHB := time.Now()
	for {
		// bufio may already hold bytes read with the upgrade response.
		var n int
		var err error
		if s.br.Buffered() > 0 {
			n, err = s.br.Read(s.buf)
		} else {
			n, err = s.nc.Read(s.buf)
		}
		if err != nil {
			if ctx.Err() != nil || s.closed.Load() {
				return nil
			}
			return err
		}
		if err := s.parse(s.buf[:n]); err != nil {
			if s.closed.Load() { // the server's answer to our close
				return nil
			}
			return err
		}
		if time.Since(lastHB) > 30*time.Second {
			lastHB = time.Now()
			if err := s.send(0x1, []byte(`{"op":"HEARTBEAT"}`)); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(drain):
		}
	}
}

// parse walks the server's (unmasked) frames in p.
func (s *rawSocket) parse(p []byte) error {
	for len(p) > 0 {
		if s.skip > 0 {
			k := min(int64(len(p)), s.skip)
			if s.ping {
				s.payload = append(s.payload, p[:k]...)
			}
			p, s.skip = p[k:], s.skip-k
			if s.skip == 0 {
				if err := s.frameDone(); err != nil {
					return err
				}
			}
			continue
		}
		s.hdr = append(s.hdr, p[0])
		p = p[1:]
		need := 2
		if len(s.hdr) >= 2 {
			switch s.hdr[1] & 0x7f {
			case 126:
				need = 4
			case 127:
				need = 10
			}
		}
		if len(s.hdr) < need {
			continue
		}
		var n int64
		switch need {
		case 2:
			n = int64(s.hdr[1] & 0x7f)
		case 4:
			n = int64(binary.BigEndian.Uint16(s.hdr[2:4]))
		case 10:
			n = int64(binary.BigEndian.Uint64(s.hdr[2:10]))
		}
		if s.hdr[1]&0x80 != 0 {
			return errors.New("masked frame from server")
		}
		op := s.hdr[0] & 0x0f
		if op == 0x8 {
			return errors.New("closed by server")
		}
		s.ping, s.payload, s.skip = op == 0x9, s.payload[:0], n
		s.hdr = s.hdr[:0]
		if n == 0 {
			if err := s.frameDone(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *rawSocket) frameDone() error {
	if s.ping {
		s.ping = false
		return s.send(0xA, s.payload)
	}
	if s.frames.Add(1); s.ready != nil {
		close(s.ready)
		s.ready = nil
	}
	return nil
}

// send writes one masked frame (payload ≤ 125 bytes).
func (s *rawSocket) send(op byte, payload []byte) error {
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	f := make([]byte, 0, 6+len(payload))
	f = append(f, 0x80|op, 0x80|byte(len(payload)))
	f = append(f, mask[:]...)
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	_ = s.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := s.nc.Write(f)
	return err
}

func (s *rawSocket) close() {
	s.closed.Store(true)
	_ = s.send(0x8, []byte{0x03, 0xe8})
	_ = s.nc.Close()
}
