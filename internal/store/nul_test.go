package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestNULRefused: a message body or reaction holding a NUL is a bad
// request on every engine (the domain checks it), and on PostgreSQL, which
// cannot store NUL in text, any text parameter holding one is refused as a
// bad request (fault.ErrNUL) rather than failing as a server error.
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
			// A field no domain checks: PostgreSQL refuses it as bad input.
			err := db.Federation().AddAction(ctx, &federation.Action{IRI: "https://peer.example/a\x00", Actor: "streamer",
				ActorIRI: "https://peer.example/u", Type: federation.EngagementLike, CreatedAt: time.Now()})
			if eng.Name == "postgres" && (!errors.Is(err, fault.ErrNUL) || fault.KindOf(err) != fault.Invalid) {
				t.Errorf("PostgreSQL text parameter with NUL: %v, want ErrNUL", err)
			}
			var got string
			err = db.QueryRowContext(ctx, `SELECT $1`, "in a query\x00").Scan(&got)
			if eng.Name == "postgres" && !errors.Is(err, fault.ErrNUL) {
				t.Errorf("PostgreSQL query parameter with NUL: %v, want ErrNUL", err)
			}
			err = db.QueryRowContext(ctx, `SELECT $1`, "not \xff UTF-8").Scan(&got)
			if eng.Name == "postgres" && !errors.Is(err, fault.ErrNotUTF8) {
				t.Errorf("PostgreSQL query parameter that is not UTF-8: %v, want ErrNotUTF8", err)
			}
		})
	}
}
