package identity_test

import (
	"context"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// BenchmarkAuthenticate: one check of an access token, as every REST
// request signed with one makes (the token's signature, the account and
// its session), on the first engine under test (SQLite unless
// HEARTH_TEST_POSTGRES_URL names PostgreSQL first).
//
//	go test -run '^$' -bench BenchmarkAuthenticate -benchmem ./internal/identity/
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	eng := storetest.Engines()[0]
	s, err := identity.New(ctx, identity.Config{Argon2: fastArgon}, eng.Open(b).Identity(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Register(ctx, identity.RegisterInput{Username: "ann", Password: "ann-password"}); err != nil {
		b.Fatal(err)
	}
	_, tok, err := s.Login(ctx, "ann", "ann-password", "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Authenticate(ctx, tok.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}
