package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestAttachmentsOfDeletedMessages: a deleted message's attachments are
// not found by stored name, and the drops return exactly the rows they
// remove, on every engine.
func TestAttachmentsOfDeletedMessages(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			svc, _ := newMessageService(t, db)
			ann := newAccount(t, db, "ann")
			conv := identity.NewID()
			x := db.TogetherExtras()
			post := func(files ...string) string {
				m, err := svc.Post(ctx, messages.PostInput{ConversationID: conv, Kind: messages.KindChannel, AuthorID: ann, Body: "files"})
				if err != nil {
					t.Fatal(err)
				}
				var as []*store.Attachment
				for _, f := range files {
					as = append(as, &store.Attachment{ID: identity.NewID(), MessageID: m.ID, UploaderID: ann, Filename: f, StoredName: f,
						FileSize: 1, MimeType: "text/plain", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)})
				}
				if err := x.AddAttachments(ctx, as, 10, 0); err != nil {
					t.Fatal(err)
				}
				return m.ID
			}
			live, purged := post("a.txt"), post("b.txt", "c.txt")
			moderated := make([]string, 3)
			for i := range moderated {
				moderated[i] = post("d.txt")
			}
			for _, id := range append([]string{purged}, moderated...) {
				if _, err := svc.Delete(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := x.Attachment(ctx, purged, "b.txt"); !errors.Is(err, fault.NotFound) {
				t.Errorf("attachment of a deleted message: %v, want not found", err)
			}
			if a, err := x.Attachment(ctx, live, "a.txt"); err != nil || a.Filename != "a.txt" {
				t.Errorf("live attachment: %v %v", a, err)
			}
			// Six files of one byte, all ann's, counted until dropped.
			if n, err := x.UploadedBytes(ctx, ann); err != nil || n != 6 {
				t.Errorf("UploadedBytes = %d, %v; want 6", n, err)
			}
			got, err := x.DropAttachments(ctx, purged)
			if err != nil || len(got) != 2 || got[0].MessageID != purged {
				t.Fatalf("DropAttachments: %v %v", got, err)
			}
			var swept int
			for {
				got, err := x.DropDeletedAttachments(ctx, 2)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range got {
					if a.StoredName != "d.txt" {
						t.Errorf("dropped %s/%s, which no deleted message held", a.MessageID, a.StoredName)
					}
				}
				swept += len(got)
				if len(got) < 2 {
					break
				}
			}
			if swept != len(moderated) {
				t.Errorf("DropDeletedAttachments dropped %d, want %d", swept, len(moderated))
			}
			if as, err := x.Attachments(ctx, live); err != nil || len(as) != 1 || as[0].UploaderID != ann {
				t.Errorf("the live message's attachments: %v %v", as, err)
			}
			if n, err := x.UploadedBytes(ctx, ann); err != nil || n != 1 {
				t.Errorf("UploadedBytes after the drops = %d, %v; want 1", n, err)
			}
		})
	}
}

// TestMigrationCreditsUploads: attachments kept before uploads had an
// uploader count toward their message author's quota, on both engines.
func TestMigrationCreditsUploads(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			_, ann, m := annsMessage(t, db)
			for _, q := range []string{`DROP INDEX together_attachments_uploader`, `ALTER TABLE together_attachments DROP COLUMN uploader_id`,
				`DELETE FROM goose_db_version WHERE version_id = 1900`} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO together_attachments (id, message_id, filename, stored_name, file_size, mime_type, created_at)
				VALUES ($1, $2, 'a.txt', 'a.txt', 1234, 'text/plain', 0)`, identity.NewID(), m.ID); err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if n, err := db.TogetherExtras().UploadedBytes(ctx, ann); err != nil || n != 1234 {
				t.Errorf("UploadedBytes after the migration = %d, %v; want 1234", n, err)
			}
		})
	}
}

// TestEmojiPerCommunityBounded: a community keeps at most max custom
// emoji even when they are created all at once, and they count toward
// their creator's uploads, on both engines.
func TestEmojiPerCommunityBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			owner := newAccount(t, db, "owner")
			c, err := newCommunityService(t, db).Create(ctx, owner, community.CreateInput{Name: "Emoji"})
			if err != nil {
				t.Fatal(err)
			}
			x := db.TogetherExtras()
			const max, n = 5, 20
			atOnce(t, "emoji", n, func(i int) error {
				return x.CreateEmoji(ctx, &store.Emoji{ID: identity.NewID(), CommunityID: c.ID, CreatedBy: owner, Name: fmt.Sprintf("e%d", i),
					ContentType: "image/png", FileSize: 100, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}, max, 0)
			}, fault.Invalid)
			if es, err := x.Emojis(ctx, c.ID); err != nil || len(es) != max {
				t.Fatalf("emoji after %d at once = %d %v, want %d", n, len(es), err, max)
			}
			if got, err := x.UploadedBytes(ctx, owner); err != nil || got != max*100 {
				t.Errorf("UploadedBytes = %d, %v; want %d", got, err, max*100)
			}
			// One more is refused; after a delete there is room again.
			e := &store.Emoji{ID: identity.NewID(), CommunityID: c.ID, CreatedBy: owner, Name: "late", ContentType: "image/png", FileSize: 1}
			if err := x.CreateEmoji(ctx, e, max, 0); !errors.Is(err, fault.Invalid) {
				t.Errorf("emoji past the bound: %v, want invalid", err)
			}
			if err := x.DeleteEmoji(ctx, c.ID, firstEmoji(t, x, c.ID)); err != nil {
				t.Fatal(err)
			}
			if err := x.CreateEmoji(ctx, e, max, 0); err != nil {
				t.Errorf("an emoji after a delete: %v", err)
			}
		})
	}
}

func firstEmoji(t *testing.T, x *store.TogetherExtras, communityID string) string {
	t.Helper()
	es, err := x.Emojis(context.Background(), communityID)
	if err != nil || len(es) == 0 {
		t.Fatalf("emoji: %v %v", es, err)
	}
	return es[0].ID
}
