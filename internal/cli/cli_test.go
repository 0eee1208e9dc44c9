package cli

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/identity"
)

// TestPasswd sets a password from standard input and from the flag: the
// new one signs in, the old one does not, and the account's refresh tokens
// are revoked.
func TestPasswd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	cfg := &config.Config{DataDir: t.TempDir(), Bus: "local", AccessTokenTTL: 15 * time.Minute, RefreshTokenTTL: 24 * time.Hour}
	db, err := app.OpenDB(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := app.NewIdentity(ctx, cfg, db, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ids.Register(ctx, identity.RegisterInput{Username: "ada", Password: "old password"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ids.OpenSession(ctx, a, "test")
	if err != nil {
		t.Fatal(err)
	}
	db.Close() // the command opens the database itself, as when the server is stopped

	if err := setPassword(ctx, cfg, log, "ada", "", strings.NewReader("new password one\n")); err != nil {
		t.Fatalf("from stdin: %v", err)
	}
	if err := setPassword(ctx, cfg, log, "nobody", "new password", strings.NewReader("")); err == nil {
		t.Error("an unknown account was accepted")
	}
	if err := setPassword(ctx, cfg, log, "ada", "", strings.NewReader("")); err == nil {
		t.Error("an empty password was accepted")
	}
	if err := setPassword(ctx, cfg, log, "ada", "short", nil); err == nil {
		t.Error("a 5-character password was accepted")
	}

	db, err = app.OpenDB(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ids, err = app.NewIdentity(ctx, cfg, db, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ids.CheckCredentials(ctx, "ada", "new password one", "127.0.0.1"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if _, err := ids.CheckCredentials(ctx, "ada", "old password", "127.0.0.1"); err == nil {
		t.Error("the old password still signs in")
	}
	if _, _, err := ids.Refresh(ctx, tok.RefreshToken); err == nil {
		t.Error("a session opened before the change still refreshes")
	}
}
