package identity_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestSignInWithNonUTF8UserAgent: a User-Agent holding bytes that are not
// UTF-8 (HTTP allows them; an old client sends Latin-1) does not stop a
// sign-in on any engine. PostgreSQL refused to store it, so registering,
// signing in and changing the password answered 400 there only.
func TestSignInWithNonUTF8UserAgent(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, _, _ := newService(t, eng)
		if _, err := s.Register(ctx, identity.RegisterInput{Username: "latin", Password: "password1"}); err != nil {
			t.Fatal(err)
		}
		for _, ua := range []string{"Caf\xe9Browser/1.0", "Mozilla\xff\xfe", strings.Repeat("\xe9", 300)} {
			a, tok, err := s.Login(ctx, "latin", "password1", ua, "192.0.2.1")
			if err != nil {
				t.Fatalf("sign-in with User-Agent %q: %v", ua, err)
			}
			if _, _, err := s.Refresh(ctx, tok.RefreshToken); err != nil {
				t.Fatalf("refresh of a session opened with User-Agent %q: %v", ua, err)
			}
			if _, err := s.ChangePassword(ctx, a.ID, "password1", "password1", "192.0.2.1", ua); err != nil {
				t.Fatalf("password change with User-Agent %q: %v", ua, err)
			}
		}
	})
}
