package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// BenchmarkMessages measures posting a message (insert + FTS index) and
// reading the newest page of 50, on every engine.
func BenchmarkMessages(b *testing.B) {
	for _, eng := range storetest.Engines() {
		db := eng.Open(b)
		ctx := context.Background()
		svc, err := messages.New(db.Messages(), nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		author := newAccount(b, db, "bench")
		conv := identity.NewID()
		b.Run(eng.Name+"/post", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := svc.Post(ctx, messages.PostInput{ConversationID: conv, Kind: messages.KindChannel, AuthorID: author,
					Body: fmt.Sprintf("benchmark message number %d with a few words to index", i)}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(eng.Name+"/list50", func(b *testing.B) {
			for b.Loop() {
				if ms, err := svc.List(ctx, messages.ListQuery{ConversationID: conv, Limit: 50}); err != nil || len(ms) != 50 {
					b.Fatalf("%d %v", len(ms), err)
				}
			}
		})
		b.Run(eng.Name+"/search", func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.Search(ctx, messages.SearchQuery{ConversationIDs: []string{conv}, Text: "number 42", Limit: 50}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
