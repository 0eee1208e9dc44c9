package gateway

import (
	"context"
	"testing"
	"time"
)

// TestLifeCancelsConnContexts: a hub built with the node's life gives every
// connection a context that ends when the life does (shutdown), while the
// socket itself stays for the hub to close.
func TestLifeCancelsConnContexts(t *testing.T) {
	t.Parallel()
	life, end := context.WithCancel(context.Background())
	defer end()
	ts := newTestServer(t, serverOpts{cfg: Config{Life: life}})
	ts.dial(t, "", nil)
	sc := ts.accepted(t)
	if sc.Context().Err() != nil {
		t.Fatal("a connection's context ended before the life did")
	}
	end()
	select {
	case <-sc.Context().Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the connection's context outlived the node's life")
	}
}
