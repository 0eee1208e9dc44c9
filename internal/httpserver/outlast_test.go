package httpserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestWritesOutlastTheirClient: a write's context is not cancelled when its
// client hangs up, a read's is, and a write's ends once the server's
// shutdown has waited its time for the requests in flight. Each handler
// waits for the test's word (or its context's end) and reports its
// context's state then.
func TestWritesOutlastTheirClient(t *testing.T) {
	t.Parallel()
	started := make(chan string, 4)
	release := make(chan struct{})
	states := make(chan string, 4)
	s, err := New(Config{Addr: "127.0.0.1:0", ShutdownTimeout: 100 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	func(s *Server) {
		h := func(w http.ResponseWriter, r *http.Request) {
			// The body read to its end: net/http watches the connection
			// for the client's hang-up from then on.
			_, _ = io.Copy(io.Discard, r.Body)
			started <- r.Method
			select {
			case <-release:
			case <-r.Context().Done(): // a read sees its client go
			}
			// Give a cancellation on its way (the hang-up) its chance to land.
			select {
			case <-r.Context().Done():
				states <- r.Method + " cancelled"
			case <-time.After(200 * time.Millisecond):
				states <- r.Method + " going on"
			}
		}
		s.HandleFunc("GET /x", h)
		s.HandleFunc("POST /x", h)
	}(s)
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- s.Run(stop) }()
	hangUp := func(method string) {
		t.Helper()
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(method, "http://"+s.Addr().String()+"/x", strings.NewReader("{}"))
		if err := req.Write(c); err != nil {
			t.Fatal(err)
		}
		if m := <-started; m != method {
			t.Fatalf("started %s, want %s", m, method)
		}
		c.Close()
	}

	hangUp("GET")
	if got := <-states; got != "GET cancelled" {
		t.Fatalf("a read whose client hung up: %s", got)
	}
	hangUp("POST")
	// The hang-up has reached the server once a read started after it
	// sees its own: the POST is still going on.
	hangUp("GET")
	if got := <-states; got != "GET cancelled" {
		t.Fatalf("second read: %s", got)
	}
	release <- struct{}{}
	if got := <-states; got != "POST going on" {
		t.Fatalf("a write whose client hung up: %s", got)
	}

	// The server shuts down: a write in flight that outlasted its client
	// is waited for, then cancelled at the shutdown's deadline.
	hangUp("POST")
	cancel()
	if got := <-states; got != "POST cancelled" {
		t.Fatalf("a write when the server shut down: %s", got)
	}
	if err := <-ran; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestOutlastClientGrace: once the client is gone, the write still ends
// ClientGoneGrace later (checked on the timer's arming, not by waiting).
func TestOutlastClientGrace(t *testing.T) {
	t.Parallel()
	client, hangUp := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	ctx, done := outlastClient(client, context.Background())
	defer done()
	if ctx.Value(ctxKey{}) != "v" {
		t.Fatal("the request's values are lost")
	}
	hangUp()
	select {
	case <-ctx.Done():
		t.Fatal("cancelled with its client")
	case <-time.After(50 * time.Millisecond):
	}
	done()
	<-ctx.Done() // done releases it
}

type ctxKey struct{}

// TestWhileClientWaits: a write that asks for it (WhileClientWaits, a
// WebRTC offer whose session is only its answer) ends when its client
// hangs up, where other writes outlast it; its request's values are kept.
func TestWhileClientWaits(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	states := make(chan string, 1)
	s, err := New(Config{Addr: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	type key struct{}
	s.HandleFunc("POST /offer", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		r = r.WithContext(context.WithValue(r.Context(), key{}, "kept"))
		ctx, cancel := WhileClientWaits(r)
		started <- struct{}{}
		select {
		case <-ctx.Done():
			cancel()
			states <- "cancelled, value " + ctx.Value(key{}).(string)
		case <-time.After(time.Minute):
			cancel()
			states <- "going on"
		}
	})
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(stop) }()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+s.Addr().String()+"/offer", strings.NewReader("v=0"))
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	<-started
	c.Close()
	if got := <-states; got != "cancelled, value kept" {
		t.Fatalf("an offer whose client hung up: %s", got)
	}
}
