package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestPostBatch: room chat is kept a batch per transaction. Every valid
// message of a batch is stored in order and announced; an invalid one is
// reported and skipped; and when the batch's transaction fails (a message
// whose id is taken), the others are still stored one by one.
func TestPostBatch(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			svc, log := newMessageService(t, db)
			ann := newAccount(t, db, "ann")
			conv := identity.NewID()
			in := func(body string) messages.PostInput {
				return messages.PostInput{ConversationID: conv, Kind: messages.KindWatch, AuthorID: ann, Body: body}
			}
			got, err := svc.PostBatch(ctx, []messages.PostInput{in("a"), in("b"), in("  "), in("c")})
			if err == nil {
				t.Fatal("a blank message in the batch: want its error")
			}
			if len(got) != 3 {
				t.Fatalf("stored %d messages, want 3", len(got))
			}
			taken := got[0].ID
			dup := in("dup")
			dup.ID = taken
			if got, err = svc.PostBatch(ctx, []messages.PostInput{in("d"), dup, in("e")}); err == nil || len(got) != 2 {
				t.Fatalf("batch with a taken id: stored %d, err %v; want 2 and the conflict", len(got), err)
			}
			list, err := svc.List(ctx, messages.ListQuery{ConversationID: conv, Limit: 10, Oldest: true})
			if err != nil {
				t.Fatal(err)
			}
			if b, want := ids(list), []string{"a", "b", "c", "d", "e"}; !slices.Equal(b, want) {
				t.Fatalf("kept %v, want %v", b, want)
			}
			if n := len(log.types()); n != 5 {
				t.Fatalf("%d created events, want 5", n)
			}
		})
	}
}
