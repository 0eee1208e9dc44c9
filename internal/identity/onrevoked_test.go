package identity_test

import (
	"context"
	"testing"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestOnRevokedBeforeReturn: the node's own hook hears a sign-out before
// Logout returns, so the node's sockets of that session are closed by then
// (the bus delivers to its subscribers later, from their own queues: a
// chat line sent once the sign-out answered reached those sockets under
// load). The revocation is still published for the other nodes.
func TestOnRevokedBeforeReturn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := bus.NewLocal()
	t.Cleanup(func() { _ = b.Close() })
	published := make(chan struct{}, 1)
	sub, err := b.Subscribe(identity.RevokedTopic, func(bus.Message) { published <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	s, err := identity.New(ctx, identity.Config{Argon2: fastArgon}, storetest.OpenSQLite(t).Identity(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	var heard []identity.Revoked
	s.OnRevoked(func(r identity.Revoked) { heard = append(heard, r) })
	if _, err := s.Register(ctx, identity.RegisterInput{Username: "leaver", Password: "password123"}); err != nil {
		t.Fatal(err)
	}
	_, tok, err := s.Login(ctx, "leaver", "password123", "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, tok.SessionID); err != nil {
		t.Fatal(err)
	}
	if len(heard) != 1 || heard[0].SessionID != tok.SessionID {
		t.Fatalf("heard %+v when Logout returned, want the session %s", heard, tok.SessionID)
	}
	<-published
}
