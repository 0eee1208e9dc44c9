package httpserver

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestWritesOutlastTheirClient: a write's context is not cancelled when its
// client hangs up, a read's is, and a write's ends with the node's life.
// Each handler waits for the test's word and reports its context's state
// then; no timing decides it.
func TestWritesOutlastTheirClient(t *testing.T) {
	t.Parallel()
	life, endLife := context.WithCancel(context.Background())
	defer endLife()
	started := make(chan string, 4)
	release := make(chan struct{})
	states := make(chan string, 4)
	s := startServer(t, Config{Life: life}, func(s *Server) {
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
	})
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

	// The node's life ends: a write in flight is cancelled.
	hangUp("POST")
	endLife()
	if got := <-states; got != "POST cancelled" {
		t.Fatalf("a write when the node's life ended: %s", got)
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
