package messages_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestBodyLimitIsTheConversations: a person's message obeys the limit of
// the conversation it goes into, whoever posts it (Together's 4000
// characters in channels and DMs, Owncast's 2048 in a stage chat); a
// message without an author keeps the store's bound. A refusal is Invalid
// and carries a BodyError with the conversation's limit, which surfaces
// word their own way.
func TestBodyLimitIsTheConversations(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := e.Open(t)
			svc, err := messages.New(db.Messages(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "alice", CreatedAt: now, UpdatedAt: now}
			if err := db.Identity().CreateAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name    string
				kind    messages.Kind
				author  string
				body    string
				wantMax int // 0: accepted
			}{
				{"channel at its limit", messages.KindChannel, a.ID, strings.Repeat("é", 4000), 0},
				{"channel past it", messages.KindChannel, a.ID, strings.Repeat("é", 4001), 4000},
				{"dm past it", messages.KindDM, a.ID, strings.Repeat("x", 4001), 4000},
				{"stage at Owncast's limit", messages.KindStage, a.ID, strings.Repeat("x", 2048), 0},
				{"stage past it", messages.KindStage, a.ID, strings.Repeat("x", 2049), 2048},
				{"stage system notice", messages.KindStage, "", strings.Repeat("x", 3000), 0},
				{"room chat (watch bounds it in bytes)", messages.KindWatch, a.ID, strings.Repeat("x", 5000), 0},
				{"blank", messages.KindStage, a.ID, " \n ", 2048},
				{"past the store's bound", messages.KindStage, "", strings.Repeat("x", messages.MaxBody+1), messages.MaxBody},
			} {
				_, err := svc.Post(ctx, messages.PostInput{ConversationID: "c-" + string(c.kind), Kind: c.kind, AuthorID: c.author, Body: c.body})
				if c.wantMax == 0 {
					if err != nil {
						t.Errorf("%s: %v", c.name, err)
					}
					continue
				}
				var be *messages.BodyError
				if !errors.As(err, &be) || be.Max != c.wantMax || fault.KindOf(err) != fault.Invalid {
					t.Errorf("%s: %v (%+v), want a BodyError with Max %d", c.name, err, be, c.wantMax)
				}
				if err := messages.CheckBody(c.kind, c.body); c.author != "" && !errors.As(err, &be) {
					t.Errorf("%s: CheckBody = %v", c.name, err)
				}
			}

			// An edit obeys the limit of the message's conversation.
			m, err := svc.Post(ctx, messages.PostInput{ConversationID: "stage", Kind: messages.KindStage, AuthorID: a.ID, Body: "hi"})
			if err != nil {
				t.Fatal(err)
			}
			var be *messages.BodyError
			if _, err := svc.Edit(ctx, m.ID, strings.Repeat("x", 2049)); !errors.As(err, &be) || be.Max != 2048 {
				t.Fatalf("stage edit past 2048: %v", err)
			}
			if _, err := svc.Edit(ctx, m.ID, strings.Repeat("x", 2048)); err != nil {
				t.Fatalf("stage edit at 2048: %v", err)
			}
		})
	}
}
