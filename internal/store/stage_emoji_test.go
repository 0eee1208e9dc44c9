package store_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/imagehdr/imagehdrtest"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestStageEmojiShared runs the Owncast custom emoji on every engine as a
// node of a cluster does (EmojiDir.Share): an upload is kept in the
// database, not in the directory, and listed and served beside a file put
// in the directory by hand; its shortcode is taken for another node's
// directory too; a delete by shortcode removes it; and while the database
// is out of reach, chat still finds the emoji it listed last (a message is
// rendered without waiting on the database).
func TestStageEmojiShared(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := t.Context()
			a, dirA := sharedEmojiDir(t, db)
			b, _ := sharedEmojiDir(t, db)
			img := imagehdrtest.PNG(8, 8)
			if _, err := a.Upload(ctx, "wave", img); err != nil {
				t.Fatal(err)
			}
			if ents, _ := os.ReadDir(dirA); len(ents) != 0 {
				t.Fatalf("an upload written to the directory: %v", ents)
			}
			if err := os.WriteFile(filepath.Join(dirA, "byhand.gif"), imagehdrtest.GIF(4, 4), 0o600); err != nil {
				t.Fatal(err)
			}
			a.Invalidate()
			list, err := a.List(ctx)
			if err != nil || len(list) != 2 || list[0].File != "byhand.gif" || list[1].File != "wave.png" {
				t.Fatalf("listing: %v %+v", err, list)
			}
			f, _, err := b.Open(ctx, "wave.png")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(f)
			f.Close()
			if !bytes.Equal(got, img) {
				t.Fatalf("served %d bytes, uploaded %d", len(got), len(img))
			}
			if _, err := b.Upload(ctx, "WAVE", imagehdrtest.GIF(4, 4)); !errors.Is(err, fault.Conflict) {
				t.Fatalf("the name taken through another directory: %v", err)
			}
			if err := b.Delete(ctx, "wave"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.Open(ctx, "wave.png"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("a deleted emoji opened: %v", err)
			}
			if err := b.Delete(ctx, "wave"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("deleted twice: %v", err)
			}
			if _, err := a.Upload(ctx, "again", img); err != nil {
				t.Fatal(err)
			}
			if u, ok := a.Lookup("again"); !ok || u != stagechat.EmojiURLPrefix+"again.png" {
				t.Fatalf("Lookup: %q %v", u, ok)
			}
			_ = db.Close()
			a.Invalidate()
			if u, ok := a.Lookup("again"); !ok || u != stagechat.EmojiURLPrefix+"again.png" {
				t.Fatalf("Lookup with the database closed: %q %v", u, ok)
			}
		})
	}
}

// TestStageEmojiDeleteRemovesOne: deleting an uploaded emoji by its file
// name removes that one emoji, not also the one whose shortcode is that
// name ("a.png" is the file of shortcode "a" and the shortcode of
// "a.png.png"), in the database or put in the directory by hand; a
// shortcode is matched only when no emoji has the name as its file.
func TestStageEmojiDeleteRemovesOne(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := t.Context()
			d, dir := sharedEmojiDir(t, db)
			for _, name := range []string{"a", "a.png.png", "b"} {
				if _, err := d.Upload(ctx, name, imagehdrtest.PNG(8, 8)); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "b.png.gif"), imagehdrtest.GIF(4, 4), 0o600); err != nil {
				t.Fatal(err)
			}
			d.Invalidate()
			files := func() []string {
				t.Helper()
				list, err := d.List(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, e := range list {
					out = append(out, e.File)
				}
				return out
			}
			if got := files(); len(got) != 4 {
				t.Fatalf("listing: %v", got)
			}
			if err := d.Delete(ctx, "a.png"); err != nil {
				t.Fatal(err)
			}
			if err := d.Delete(ctx, "b.png"); err != nil {
				t.Fatal(err)
			}
			if got := files(); len(got) != 2 || got[0] != "a.png.png" || got[1] != "b.png.gif" {
				t.Fatalf("after deleting a.png and b.png: %v, want [a.png.png b.png.gif]", got)
			}
			if err := d.Delete(ctx, "a.png"); err != nil { // now the shortcode of a.png.png
				t.Fatal(err)
			}
			if got := files(); len(got) != 1 || got[0] != "b.png.gif" {
				t.Fatalf("after deleting the shortcode a.png: %v", got)
			}
		})
	}
}

// sharedEmojiDir opens an emoji directory of its own sharing db's uploaded
// emoji, as each node of a cluster does; dir is its folder.
func sharedEmojiDir(t *testing.T, db *store.DB) (d *stagechat.EmojiDir, dir string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "emoji")
	d, err := stagechat.OpenEmojiDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	d.Share(db.StageChat(), nil)
	return d, dir
}
