package store_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestNULRefused: a message body or reaction holding a NUL is a bad
// request on every engine (the domain checks it), and any other text
// parameter holding one is refused as a bad request (fault.ErrNUL) on every
// engine too: PostgreSQL cannot store NUL in text, and SQLite, which
// could, refuses it alike so both engines keep the same text.
func TestNULRefused(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			svc, ann, m := annsMessage(t, db)
			if _, err := svc.Post(ctx, messages.PostInput{ConversationID: m.ConversationID, Kind: messages.KindChannel, AuthorID: ann, Body: "a\x00b"}); !errors.Is(err, fault.ErrNUL) {
				t.Errorf("a body with NUL: %v, want ErrNUL", err)
			}
			if _, err := svc.Edit(ctx, m.ID, "c\x00d"); !errors.Is(err, fault.ErrNUL) {
				t.Errorf("an edit with NUL: %v, want ErrNUL", err)
			}
			if _, err := svc.React(ctx, m, ann, "x\x00", true); fault.KindOf(err) != fault.Invalid {
				t.Errorf("a reaction with NUL: %v, want invalid", err)
			}
			// A field no domain checks: refused as bad input.
			err := db.Federation().AddAction(ctx, &federation.Action{IRI: "https://peer.example/a\x00", Actor: "streamer",
				ActorIRI: "https://peer.example/u", Type: federation.EngagementLike, CreatedAt: time.Now()}, federation.MaxActions)
			if !errors.Is(err, fault.ErrNUL) || fault.KindOf(err) != fault.Invalid {
				t.Errorf("text parameter with NUL: %v, want ErrNUL", err)
			}
			// A name through a prepared, cached statement and a transaction.
			now := time.Now().UTC()
			if err := db.Identity().CreateAccount(ctx, &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "nul\x00name", CreatedAt: now, UpdatedAt: now}); !errors.Is(err, fault.ErrNUL) {
				t.Errorf("an account name with NUL: %v, want ErrNUL", err)
			}
			var got string
			err = db.QueryRowContext(ctx, `SELECT $1`, "in a query\x00").Scan(&got)
			if !errors.Is(err, fault.ErrNUL) {
				t.Errorf("query parameter with NUL: %v, want ErrNUL", err)
			}
			if err := db.QueryRowContext(ctx, `SELECT $1`, "plain text").Scan(&got); err != nil || got != "plain text" {
				t.Errorf("query parameter without NUL: %q %v", got, err)
			}
			err = db.QueryRowContext(ctx, `SELECT $1`, "not \xff UTF-8").Scan(&got)
			if eng.Name == "postgres" && !errors.Is(err, fault.ErrNotUTF8) {
				t.Errorf("PostgreSQL query parameter that is not UTF-8: %v, want ErrNotUTF8", err)
			}
		})
	}
}

// TestTooLongRefused: a value past PostgreSQL's index row size (an account
// link's subject of 10 KB that does not compress) is a bad request
// (fault.ErrTooLong) there, through Exec and through INSERT … RETURNING,
// rather than a server error; SQLite keeps it.
func TestTooLongRefused(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			now := time.Now().UTC()
			a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "ann", CreatedAt: now, UpdatedAt: now}
			if err := db.Identity().CreateAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
			long := make([]byte, 7500)
			if _, err := rand.Read(long); err != nil {
				t.Fatal(err)
			}
			subject := base64.StdEncoding.EncodeToString(long) // 10,000 bytes
			err := db.AccountLinks().LinkAccount(ctx, "discord", subject, a.ID, now)
			if eng.Name == "postgres" {
				if !errors.Is(err, fault.ErrTooLong) || fault.KindOf(err) != fault.Invalid {
					t.Errorf("a 10 KB link subject: %v, want ErrTooLong", err)
				}
			} else if err != nil {
				t.Errorf("a 10 KB link subject: %v", err)
			}
			var got string
			err = db.QueryRowContext(ctx, `INSERT INTO account_links (provider, subject, account_id, created_at)
				VALUES ('other', $1, $2, 0) RETURNING provider`, subject, a.ID).Scan(&got)
			if eng.Name == "postgres" && !errors.Is(err, fault.ErrTooLong) {
				t.Errorf("INSERT … RETURNING a 10 KB subject: %v, want ErrTooLong", err)
			} else if eng.Name != "postgres" && err != nil {
				t.Errorf("INSERT … RETURNING a 10 KB subject: %v", err)
			}
		})
	}
}
