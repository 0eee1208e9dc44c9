package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestUnreadManyConversations: READY asks for the unread counts of every
// channel and DM an account sees at once. 40,000 conversations (more bound
// parameters than SQLite takes in one statement) are answered, and counts
// are right across the store's chunks: a conversation at a chunk's end, one
// at the next chunk's start, one in the padded last chunk, each counted
// once, with a mention counted.
func TestUnreadManyConversations(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			svc, _ := newMessageService(t, db)
			ann, bob := newAccount(t, db, "ann"), newAccount(t, db, "bob")
			ids := make([]string, 40_000)
			for i := range ids {
				ids[i] = identity.NewID()
			}
			posted := map[string]int{}
			for _, i := range []int{99, 100, 39_999, 39_999} {
				in := messages.PostInput{ConversationID: ids[i], Kind: messages.KindChannel, AuthorID: bob, Body: "hello"}
				if i == 100 {
					in.MentionUserIDs = []string{ann}
				}
				if _, err := svc.Post(ctx, in); err != nil {
					t.Fatal(err)
				}
				posted[ids[i]]++
			}
			un, err := svc.Unread(ctx, ann, ids)
			if err != nil {
				t.Fatalf("unread of %d conversations: %v", len(ids), err)
			}
			var got []string
			for _, u := range un {
				got = append(got, fmt.Sprintf("%s %d %d", u.ConversationID, u.Unread, u.Mentions))
			}
			want := []string{ids[99] + " 1 0", ids[100] + " 1 1", ids[39_999] + " 2 0"}
			slices.Sort(got)
			slices.Sort(want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("unread = %v, want %v", got, want)
			}
			if un, err := svc.Unread(ctx, ann, nil); err != nil || len(un) != 0 {
				t.Fatalf("unread of no conversations: %v %v", un, err)
			}
		})
	}
}
