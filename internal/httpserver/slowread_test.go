package httpserver

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSlowReader: a client that asks for a large response and never reads
// it makes the handler's write fail after WriteTimeout, where it used to
// hold the handler, its connection and megabytes of kernel send buffer for
// good (200 such connections: 560 MB of send queues, an hour later still).
func TestSlowReader(t *testing.T) {
	t.Parallel()
	writeErr := make(chan error, 1)
	s := startServer(t, Config{WriteTimeout: 100 * time.Millisecond}, func(s *Server) {
		s.HandleFunc("GET /big", func(w http.ResponseWriter, _ *http.Request) {
			chunk := bytes.Repeat([]byte{'x'}, 32<<10)
			for range 8192 { // 256 MiB: far more than any socket buffers
				if _, err := w.Write(chunk); err != nil {
					writeErr <- err
					return
				}
			}
			writeErr <- nil
		})
	})
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select { // nothing is ever read
	case err := <-writeErr:
		if err == nil {
			t.Fatal("256 MiB were written to a client that read nothing")
		}
	case <-time.After(time.Minute):
		t.Fatal("a client that does not read held its handler's write (no write deadline)")
	}
}

// TestWriteDeadlineSparesQuietHandlers: the write deadline counts only
// while a write waits. A handler that is quiet longer than WriteTimeout
// between writes or before returning still completes its response, the
// next request on the connection is not cut by the deadline the previous
// one left, and a hijacked connection (a WebSocket) keeps no deadline.
func TestWriteDeadlineSparesQuietHandlers(t *testing.T) {
	t.Parallel()
	const timeout = 50 * time.Millisecond
	hijacked := make(chan net.Conn, 1)
	s := startServer(t, Config{WriteTimeout: timeout}, func(s *Server) {
		s.HandleFunc("GET /quiet", func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "a")
			_ = http.NewResponseController(w).Flush()
			time.Sleep(4 * timeout)
			io.WriteString(w, "b")
			time.Sleep(4 * timeout)
		})
		s.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
		})
		s.HandleFunc("GET /hijack", func(w http.ResponseWriter, _ *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			hijacked <- c
		})
	})
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	for range 2 { // the second request follows a pause on a kept-alive connection
		resp := getOn(t, c, "/quiet")
		if resp != "ab" {
			t.Fatalf("quiet handler answered %q", resp)
		}
		time.Sleep(4 * timeout)
	}
	// net/http answers Expect: 100-continue itself, before the handler
	// writes anything: no deadline of the previous request may cut it.
	if _, err := io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("no 100 Continue after a pause: %q %v", line, err)
	}
	for line := ""; line != "\r\n"; {
		if line, err = br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	io.WriteString(c, "ok")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
		t.Fatalf("echo answered %q", b)
	}
	time.Sleep(4 * timeout)
	if _, err := io.WriteString(c, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	hc := <-hijacked
	defer hc.Close()
	time.Sleep(4 * timeout) // the handler has returned long ago
	if _, err := io.WriteString(hc, "hello"); err != nil {
		t.Fatalf("a hijacked connection kept the server's write deadline: %v", err)
	}
	var got []byte
	buf := make([]byte, 512)
	for !bytes.HasSuffix(got, []byte("hello")) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read %q, %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
}

func getOn(t *testing.T, c net.Conn, path string) string {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Chunked: read until the terminating chunk.
	var b strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(b.String(), "\r\n0\r\n\r\n") {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("%s: %v after %q", path, err, b.String())
		}
		b.Write(buf[:n])
	}
	resp, err := http.ReadResponse(bufioReader(b.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
