package together_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
	"github.com/hearth-community/hearth/internal/surface/together/files"
)

// attach uploads one PNG to a fresh message of ann's in cid and returns
// the message id, the attachment's signed URL and its file on disk.
func (e *env) attach(dir, token, cid string) (mid, signed, file string) {
	e.t.Helper()
	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", token, map[string]any{"content": "with a file"})
	mid = m["id"].(string)
	code, body := e.upload("/messages/"+mid+"/attachments", token, []part{{"files", "a.png", pngBytes(e.t.(*testing.T), 2, 2)}})
	if code != 201 {
		e.t.Fatalf("upload: %d %s", code, body)
	}
	_, list := e.must(200, "GET", "/messages/"+mid+"/attachments", token, nil)
	signed = list[0].(map[string]any)["url"].(string)
	stored := strings.TrimPrefix(signed[:strings.Index(signed, "?")], "/files/")
	return mid, signed, filepath.Join(dir, filepath.FromSlash(stored))
}

func statusOf(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestDeletedMessageTakesItsFiles: deleting a message removes its
// attachments' files at once, and a signed URL handed out before the
// delete no longer serves them.
func TestDeletedMessageTakesItsFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.UploadDir = dir })
	ann := e.register("ann")
	_, cid := e.serverWithChannel(ann, "files")
	mid, signed, file := e.attach(dir, ann.access, cid)
	keptID, keptURL, kept := e.attach(dir, ann.access, cid)
	if statusOf(t, e.url+signed) != 200 || !exists(file) {
		t.Fatal("the attachment is not served before the delete")
	}
	e.must(204, "DELETE", "/messages/"+mid, ann.access, nil)
	if code := statusOf(t, e.url+signed); code != 404 {
		t.Errorf("signed URL of a deleted message: %d, want 404", code)
	}
	if exists(file) || exists(filepath.Dir(file)) {
		t.Errorf("the deleted message's file is still on disk: %s", file)
	}
	if statusOf(t, e.url+keptURL) != 200 || !exists(kept) {
		t.Errorf("another message's attachment (%s) went too", keptID)
	}
}

// TestUploadSweep: the node's sweep removes the files of messages deleted
// another way than the Together route (moderation, the other surfaces),
// files that no row names once they are an hour old (an upload cut off by
// a crash, a deleted channel's attachments), and the images of deleted
// emoji; it keeps live attachments and emoji and an upload still arriving.
func TestUploadSweep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var msgs *messages.Service
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) {
		d.UploadDir, d.UploadSweep, msgs = dir, 20*time.Millisecond, d.Messages
	})
	ann := e.register("ann")
	sid, cid := e.serverWithChannel(ann, "files")
	modID, modURL, modFile := e.attach(dir, ann.access, cid)
	_, liveURL, liveFile := e.attach(dir, ann.access, cid)
	if _, err := msgs.Delete(context.Background(), modID); err != nil {
		t.Fatal(err)
	}
	if code := statusOf(t, e.url+modURL); code != 404 {
		t.Errorf("signed URL of a message deleted by moderation: %d, want 404", code)
	}
	code, body := e.upload("/servers/"+sid+"/emojis", ann.access, []part{{"name", "", []byte("wave")}, {"image", "w.png", pngBytes(t, 2, 2)}})
	if code != 201 {
		t.Fatalf("emoji: %d %s", code, body)
	}
	emojiID := body[strings.Index(body, `"id":"`)+6:][:36]
	old := time.Now().Add(-2 * files.SweepGrace)
	plant := func(rel string, mtime time.Time) string {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("left behind"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	orphan := plant(uuid.NewString()+"/0123_crashed.png", old)
	arriving := plant(uuid.NewString()+"/4567_arriving.png", time.Now())
	deadEmoji := plant("emojis/"+uuid.NewString(), old)
	liveEmoji := filepath.Join(dir, "emojis", emojiID)
	if err := os.Chtimes(liveEmoji, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(liveFile, old, old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for exists(modFile) || exists(orphan) || exists(deadEmoji) {
		if time.Now().After(deadline) {
			t.Fatalf("not swept: moderated %v, orphan %v, deleted emoji %v", exists(modFile), exists(orphan), exists(deadEmoji))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Each sweep walks every directory, so the pass that removed the
	// orphan also looked at these.
	if !exists(arriving) || !exists(liveFile) || !exists(liveEmoji) {
		t.Errorf("swept what it must keep: arriving %v, live attachment %v, live emoji %v", exists(arriving), exists(liveFile), exists(liveEmoji))
	}
	if statusOf(t, e.url+liveURL) != 200 {
		t.Error("the live attachment is no longer served")
	}
}

// TestUploadsRefusedWhenDiskShort: with less free space than
// --upload-min-free-bytes, attachment and emoji uploads answer 507 in
// Together's error shape and nothing is written.
func TestUploadsRefusedWhenDiskShort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.UploadDir, d.UploadMinFree = dir, 1<<62 })
	ann := e.register("ann")
	sid, cid := e.serverWithChannel(ann, "files")
	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "with a file"})
	code, body := e.upload("/messages/"+m["id"].(string)+"/attachments", ann.access, []part{{"files", "a.png", pngBytes(t, 2, 2)}})
	if code != 507 || !strings.Contains(body, `"error":"The server is out of storage space for uploads"`) {
		t.Errorf("attachment on a short disk: %d %s", code, body)
	}
	code, body = e.upload("/servers/"+sid+"/emojis", ann.access, []part{{"name", "", []byte("wave")}, {"image", "w.png", pngBytes(t, 2, 2)}})
	if code != 507 || !strings.Contains(body, `"error"`) {
		t.Errorf("emoji on a short disk: %d %s", code, body)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a refused upload left %d entries in the upload directory", len(ents))
	}
}

// TestUploadQuota: an account's kept attachments stop at
// --upload-quota-bytes (507, nothing of the refused request kept),
// deleting a message frees its share, and an instance admin has none.
func TestUploadQuota(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	img := pngBytes(t, 2, 2)
	quota := int64(2*len(img) + len(img)/2) // two files and a half
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.UploadDir, d.UploadQuota = dir, quota })
	ann, root := e.register("ann"), e.register("root")
	sid, cid := e.serverWithChannel(ann, "files", root)
	post := func(u user) string {
		m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", u.access, map[string]any{"content": "with files"})
		return m["id"].(string)
	}
	first, second := post(ann), post(ann)
	if code, body := e.upload("/messages/"+first+"/attachments", ann.access, []part{{"files", "a.png", img}}); code != 201 {
		t.Fatalf("first upload: %d %s", code, body)
	}
	// The second file of this request crosses the quota: the whole
	// request is refused and its first file is not kept.
	code, body := e.upload("/messages/"+second+"/attachments", ann.access, []part{{"files", "b.png", img}, {"files", "c.png", img}})
	if code != 507 || !strings.Contains(body, "Upload quota") {
		t.Fatalf("past the quota: %d %s", code, body)
	}
	if _, list := e.must(200, "GET", "/messages/"+second+"/attachments", ann.access, nil); len(list) != 0 {
		t.Errorf("a refused request kept %d attachments", len(list))
	}
	if code, body := e.upload("/messages/"+second+"/attachments", ann.access, []part{{"files", "b.png", img}}); code != 201 {
		t.Fatalf("within the quota: %d %s", code, body)
	}
	if code, _ := e.upload("/messages/"+second+"/attachments", ann.access, []part{{"files", "c.png", img}}); code != 507 {
		t.Errorf("a file larger than what is left: %d, want 507", code)
	}
	// Custom emoji count too: none fits now, and one kept takes the room
	// of an attachment until it is deleted.
	emoji := []part{{"name", "", []byte("wave")}, {"image", "w.png", img}}
	if code, body := e.upload("/servers/"+sid+"/emojis", ann.access, emoji); code != 507 || !strings.Contains(body, "Upload quota") {
		t.Fatalf("an emoji past the quota: %d %s", code, body)
	}
	e.must(204, "DELETE", "/messages/"+first, ann.access, nil)
	code, body = e.upload("/servers/"+sid+"/emojis", ann.access, emoji)
	if code != 201 {
		t.Fatalf("an emoji within the quota: %d %s", code, body)
	}
	emojiID := body[strings.Index(body, `"id":"`)+6:][:36]
	if code, _ := e.upload("/messages/"+second+"/attachments", ann.access, []part{{"files", "c.png", img}}); code != 507 {
		t.Errorf("an upload the emoji left no room for: %d, want 507", code)
	}
	e.must(204, "DELETE", "/servers/"+sid+"/emojis/"+emojiID, ann.access, nil)
	if code, body := e.upload("/messages/"+second+"/attachments", ann.access, []part{{"files", "c.png", img}}); code != 201 {
		t.Errorf("after deleting a message and the emoji: %d %s", code, body)
	}
	// An instance admin has no quota.
	e.makeAdmin(root)
	mid := post(root)
	for i := range 4 {
		if code, body := e.upload("/messages/"+mid+"/attachments", root.access, []part{{"files", "r.png", img}}); code != 201 {
			t.Fatalf("admin upload %d: %d %s", i, code, body)
		}
	}
}

// TestEmojiPerServerBounded: a server keeps at most 50 custom emoji, as
// Together: the 51st is a 400 with Together's message, and deleting one
// makes room.
func TestEmojiPerServerBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.UploadDir = t.TempDir() })
	ann := e.register("ann")
	sid, _ := e.serverWithChannel(ann, "emoji")
	img := pngBytes(t, 2, 2)
	create := func(name string) (int, string) {
		return e.upload("/servers/"+sid+"/emojis", ann.access, []part{{"name", "", []byte(name)}, {"image", "e.png", img}})
	}
	var first string
	for i := range files.MaxEmojisPerServer {
		code, body := create(fmt.Sprintf("e%d", i))
		if code != 201 {
			t.Fatalf("emoji %d: %d %s", i, code, body)
		}
		if i == 0 {
			first = body[strings.Index(body, `"id":"`)+6:][:36]
		}
	}
	if code, body := create("late"); code != 400 || !strings.Contains(body, "Servers may not have more than 50 custom emojis") {
		t.Fatalf("emoji past the bound: %d %s", code, body)
	}
	e.must(204, "DELETE", "/servers/"+sid+"/emojis/"+first, ann.access, nil)
	if code, body := create("late"); code != 201 {
		t.Errorf("after a delete: %d %s", code, body)
	}
}

// TestNULInTextRefused: a message or reaction holding a NUL character is
// a 400 in Together's error shape (PostgreSQL cannot store one, and SQLite
// now refuses it alike), not a 500.
func TestNULInTextRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann := e.register("ann")
	_, cid := e.serverWithChannel(ann, "nul")
	if code, body, _ := e.call("POST", "/channels/"+cid+"/messages", ann.access, `{"content":"a\u0000b"}`); code != 400 ||
		body["error"] != "Text must not contain NUL characters" {
		t.Errorf("message with NUL: %d %v", code, body)
	}
	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "fine"})
	if code, body, _ := e.call("PATCH", "/messages/"+m["id"].(string), ann.access, `{"content":"c\u0000d"}`); code != 400 {
		t.Errorf("edit with NUL: %d %v", code, body)
	}
	if code, body, _ := e.call("PUT", "/channels/"+cid+"/messages/"+m["id"].(string)+"/reactions/x%00", ann.access, nil); code != 400 {
		t.Errorf("reaction with NUL: %d %v", code, body)
	}
}

// TestTimedOutMemberAttachesNothing: a timeout stops a member posting
// files as it stops them posting text; attaching to a message written
// before the timeout is refused too, and works again once it is lifted.
func TestTimedOutMemberAttachesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.UploadDir = dir })
	ann, bob := e.register("ann"), e.register("bob")
	sid, cid := e.serverWithChannel(ann, "files", bob)
	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "before the timeout"})
	mid := m["id"].(string)
	e.must(200, "POST", "/servers/"+sid+"/members/"+bob.id+"/timeout", ann.access, map[string]any{"duration_minutes": 30, "reason": "cool off"})
	code, body := e.upload("/messages/"+mid+"/attachments", bob.access, []part{{"files", "a.png", pngBytes(t, 2, 2)}})
	if code != 403 || !strings.Contains(body, "User is timed out") {
		t.Errorf("timed-out upload: %d %s, want 403 User is timed out", code, body)
	}
	if _, list := e.must(200, "GET", "/messages/"+mid+"/attachments", ann.access, nil); len(list) != 0 {
		t.Errorf("the timed-out member's file was kept: %v", list)
	}
	e.must(204, "DELETE", "/servers/"+sid+"/members/"+bob.id+"/timeout", ann.access, nil)
	if code, body := e.upload("/messages/"+mid+"/attachments", bob.access, []part{{"files", "a.png", pngBytes(t, 2, 2)}}); code != 201 {
		t.Errorf("upload after the timeout: %d %s", code, body)
	}
}
