package app_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestTwoNodesServeEachOthersUploads: on PostgreSQL + NATS, each node with
// its own data directory, an attachment and a custom emoji uploaded through
// node A are served by node B, which fetches them from A (it answered 404
// when uploads stayed on their node): the same bytes and headers, a range
// request passes through, an unsigned request still needs a caller who may
// see the message, and a file A no longer holds is 404 on B. A's peer
// routes refuse requests the cluster's key did not sign.
func TestTwoNodesServeEachOthersUploads(t *testing.T) {
	t.Parallel()
	a, b := clusterPair(t, nil)
	urlA, urlB := a.HTTP.URL(), b.HTTP.URL()

	var ann, eve struct {
		AccessToken string `json:"access_token"`
	}
	if code := call(t, "POST", urlA+"/auth/register", "", map[string]string{"username": "uploader", "password": "password1"}, &ann); code != 201 {
		t.Fatalf("register on A: %d", code)
	}
	if code := call(t, "POST", urlB+"/auth/register", "", map[string]string{"username": "stranger", "password": "password1"}, &eve); code != 201 {
		t.Fatalf("register on B: %d", code)
	}
	var srv, ch, msg struct{ ID string }
	if code := call(t, "POST", urlA+"/servers", ann.AccessToken, map[string]string{"name": "Files"}, &srv); code != 201 {
		t.Fatalf("create server: %d", code)
	}
	if code := call(t, "POST", urlA+"/servers/"+srv.ID+"/channels", ann.AccessToken, map[string]string{"name": "general", "type": "text"}, &ch); code != 201 {
		t.Fatalf("create channel: %d", code)
	}
	if code := call(t, "POST", urlA+"/channels/"+ch.ID+"/messages", ann.AccessToken, map[string]string{"content": "a picture"}, &msg); code != 201 {
		t.Fatalf("post: %d", code)
	}
	pic := pngBytes(t) // multipartEmoji's image too
	var atts []struct{ URL string }
	if code := call(t, "POST", urlA+"/messages/"+msg.ID+"/attachments", ann.AccessToken, multipartBody(t, "files", "pic.png", pic), &atts); code != 201 || len(atts) != 1 {
		t.Fatalf("upload on A: %d %v", code, atts)
	}
	var emo struct{ ID string }
	if code := call(t, "POST", urlA+"/servers/"+srv.ID+"/emojis", ann.AccessToken, multipartEmoji(t, "dot"), &emo); code != 201 {
		t.Fatalf("emoji on A: %d", code)
	}

	bearer := func(token string) map[string]string { return map[string]string{"Authorization": "Bearer " + token} }
	// The signed URL A handed out, asked of B.
	res, body := getWith(t, urlB+atts[0].URL, nil)
	if res.StatusCode != 200 || !bytes.Equal(body, pic) {
		t.Fatalf("attachment through B: %d, %d bytes (%q), want 200 and the %d uploaded", res.StatusCode, len(body), body, len(pic))
	}
	for k, v := range map[string]string{"Content-Type": "image/png", "X-Content-Type-Options": "nosniff",
		"Content-Security-Policy": "default-src 'none'; sandbox", "Content-Disposition": `inline; filename="pic.png"`} {
		if got := res.Header.Get(k); got != v {
			t.Errorf("attachment through B: %s %q, want %q", k, got, v)
		}
	}
	res, body = getWith(t, urlB+atts[0].URL, map[string]string{"Range": "bytes=0-7"})
	if res.StatusCode != 206 || !bytes.Equal(body, pic[:8]) || res.Header.Get("Content-Range") != "bytes 0-7/"+strconv.Itoa(len(pic)) {
		t.Fatalf("range through B: %d %q %q", res.StatusCode, res.Header.Get("Content-Range"), body)
	}
	// Unsigned, the caller must be able to see the message, on B as on A.
	path, _, _ := strings.Cut(atts[0].URL, "?")
	if res, _ := getWith(t, urlB+path, bearer(eve.AccessToken)); res.StatusCode != 404 {
		t.Fatalf("a stranger's unsigned request through B: %d, want 404", res.StatusCode)
	}
	if res, body := getWith(t, urlB+path, bearer(ann.AccessToken)); res.StatusCode != 200 || !bytes.Equal(body, pic) {
		t.Fatalf("the uploader's unsigned request through B: %d", res.StatusCode)
	}
	res, body = getWith(t, urlB+"/api/emojis/"+emo.ID, nil)
	if res.StatusCode != 200 || !bytes.Equal(body, pic) || res.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("emoji through B: %d %q, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}
	// A's peer routes are for the nodes: unsigned or badly signed, 403.
	for _, u := range []string{urlA + path + "/peer", urlA + path + "/peer?exp=9999999999&sig=00", urlA + "/emojis/" + emo.ID + "/peer"} {
		if res, _ := getWith(t, u, bearer(ann.AccessToken)); res.StatusCode != 403 {
			t.Errorf("%s: %d, want 403", u, res.StatusCode)
		}
	}
	// A file its node no longer holds is not found through B either.
	if err := os.RemoveAll(filepath.Join(a.Config.DataDir, "uploads", msg.ID)); err != nil {
		t.Fatal(err)
	}
	if res, body := getWith(t, urlB+atts[0].URL, nil); res.StatusCode != 404 || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("a file A lost, through B: %d %s", res.StatusCode, body)
	}
}

// TestTwoNodesServeOneLogo: on PostgreSQL + NATS, each node with its own
// data directory, the Owncast logo and favicon set through node A are
// served by node B (B served its default), and a logo set again through B
// under the same file name replaces A's copy: A serves the new one, not
// the file left in its own logo directory.
func TestTwoNodesServeOneLogo(t *testing.T) {
	t.Parallel()
	a, b := clusterPair(t, nil)
	urlA, urlB := a.HTTP.URL(), b.HTTP.URL()
	set := func(base, what string, img []byte) {
		t.Helper()
		if code, body := owncastAdmin(t, base, "POST", "/api/admin/config/"+what,
			map[string]string{"value": "data:image/png;base64," + base64.StdEncoding.EncodeToString(img)}); code != 200 {
			t.Fatalf("set the %s through %s: %d %s", what, base, code, body)
		}
	}
	served := func(url string, want []byte) func() bool {
		return func() bool {
			code, hdr, body := get(t, url)
			return code == 200 && hdr.Get("Content-Type") == "image/png" && bytes.Equal(body, want)
		}
	}
	first, second := pngBytes(t), pngBytes(t)
	second[len(second)-20] ^= 0xff // another image under the same name (a CRC the decoder is not asked to check)
	set(urlA, "logo", first)
	poll(t, "node A's logo through node B", 10*time.Second, served(urlB+"/logo", first))
	set(urlA, "favicon", first)
	poll(t, "node A's favicon through node B", 10*time.Second, served(urlB+"/favicon.ico", first))
	// A node that stopped between keeping a new image and naming it in the
	// settings (kill -9) leaves the image the settings name where it was:
	// a node without a copy still restores that one.
	if _, err := a.StageChat.PutBrandImage(t.Context(), pngBytes(t)[:60]); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(b.Config.DataDir, "logo", "logo.png")); err != nil {
		t.Fatal(err)
	}
	if !served(urlB+"/logo", first)() {
		t.Fatal("node B lost the logo the settings name after another image was kept")
	}
	set(urlB, "logo", second)
	poll(t, "node B's new logo through node A", 10*time.Second, served(urlA+"/logo", second))
	if onA, err := os.ReadFile(filepath.Join(a.Config.DataDir, "logo", "logo.png")); err != nil || !bytes.Equal(onA, second) {
		t.Fatalf("node A's copy of the logo was not replaced: %v", err)
	}
	// The favicon still names the first image's bytes: kept. Reset, its
	// copy is freed.
	if _, err := a.StageChat.BrandImage(t.Context(), stagechat.BrandSum(first)); err != nil {
		t.Fatalf("the favicon's copy: %v", err)
	}
	if code, body := owncastAdmin(t, urlA, "DELETE", "/api/admin/config/favicon", nil); code != 200 {
		t.Fatalf("reset the favicon: %d %s", code, body)
	}
	if _, err := a.StageChat.BrandImage(t.Context(), stagechat.BrandSum(first)); !errors.Is(err, fault.NotFound) {
		t.Fatalf("the copy of an image nothing names is kept: %v", err)
	}
}

// TestTwoNodesShareOwncastEmoji: on PostgreSQL + NATS, each node with its
// own data directory, an Owncast custom emoji uploaded through node A is
// listed and served by node B (B listed none), its name is taken on B too,
// and deleted through B it is gone from A's listing and files.
func TestTwoNodesShareOwncastEmoji(t *testing.T) {
	t.Parallel()
	a, b := clusterPair(t, nil)
	urlA, urlB := a.HTTP.URL(), b.HTTP.URL()
	admin := func(base, op string, body map[string]string) (int, string) {
		code, out := owncastAdmin(t, base, "POST", "/api/admin/emoji/"+op, body)
		return code, string(out)
	}
	listed := func(base string) string {
		_, _, body := get(t, base+"/api/emoji")
		return strings.TrimSpace(string(body))
	}
	img := pngBytes(t)
	if code, body := admin(urlA, "upload", map[string]string{"name": "wave", "data": "data:image/png;base64," + base64.StdEncoding.EncodeToString(img)}); code != 200 {
		t.Fatalf("upload through A: %d %s", code, body)
	}
	const one = `[{"name":"wave","url":"/img/emoji/wave.png"}]`
	poll(t, "node A's emoji listed by node B", 10*time.Second, func() bool { return listed(urlB) == one })
	if code, hdr, body := get(t, urlB+"/img/emoji/wave.png"); code != 200 || hdr.Get("Content-Type") != "image/png" || !bytes.Equal(body, img) {
		t.Fatalf("node A's emoji through node B: %d %q, %d bytes", code, hdr.Get("Content-Type"), len(body))
	}
	if code, body := admin(urlB, "upload", map[string]string{"name": "WAVE", "data": "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBytes(t))}); code != 400 || !strings.Contains(body, "already exists") {
		t.Fatalf("the same name through B: %d %s", code, body)
	}
	if code, body := admin(urlB, "delete", map[string]string{"name": "wave"}); code != 200 {
		t.Fatalf("delete through B: %d %s", code, body)
	}
	poll(t, "the emoji gone from node A's listing", 10*time.Second, func() bool { return listed(urlA) == "[]" })
	if code, _, _ := get(t, urlA+"/img/emoji/wave.png"); code != 404 {
		t.Fatalf("the deleted emoji through A: %d", code)
	}
}

// TestTwoNodesShareTheChatPace: on PostgreSQL + NATS, an account's chat
// message through node A is charged to its pace on node B, so its message
// on a socket of node B inside the interval gets Owncast's flood notice
// (each node kept its own pace, and an account spread over n nodes posted n
// times the rate). The rate is one message per 100 s, and B's charge is
// awaited, so no step depends on timing.
func TestTwoNodesShareTheChatPace(t *testing.T) {
	t.Parallel()
	a, b := clusterPair(t, func(cfg *config.Config) { cfg.ChatFloodRate = 0.01 })
	var reg struct{ ID, AccessToken string }
	if code := call(t, "POST", a.HTTP.URL()+"/api/chat/register", "", map[string]any{"displayName": "spreader"}, &reg); code != 200 || reg.ID == "" {
		t.Fatalf("chat register: %d %+v", code, reg)
	}
	open := func(app *app.App) *socket {
		ws := dialSocket(t, "ws"+strings.TrimPrefix(app.HTTP.URL(), "http")+"/ws?accessToken="+reg.AccessToken)
		ws.await("CONNECTED_USER_INFO", func(f map[string]any) bool { return f["type"] == "CONNECTED_USER_INFO" })
		return ws
	}
	onA, onB := open(a), open(b)
	with := func(typ, text string) func(map[string]any) bool {
		return func(f map[string]any) bool {
			body, _ := f["body"].(string)
			return f["type"] == typ && strings.Contains(body, text)
		}
	}
	onA.send(map[string]string{"type": "CHAT", "body": "one through node A"})
	onA.await("the message on node A", with("CHAT", "one through node A"))
	poll(t, "node B to charge node A's message", 10*time.Second, func() bool { return b.StageChat.PaceWait(reg.ID) > 0 })
	onB.send(map[string]string{"type": "CHAT", "body": "two through node B"})
	onB.await("the flood notice on node B", with("CHAT_ACTION", "perceived flooding"))
}

// TestTwoNodesShareRateLimits: on PostgreSQL + NATS, the in-memory rate
// limits hold across the nodes (ratelimit.Cluster): with a pace of one
// message per 100 s (burst 1), a person's message through node A spends
// their budget on node B too, so their next message through B is 429 (each
// node kept its own budget, n nodes allowing n times the rate). B's charge
// is awaited, so no step depends on timing.
func TestTwoNodesShareRateLimits(t *testing.T) {
	t.Parallel()
	a, b := clusterPair(t, func(cfg *config.Config) { cfg.TogetherMessageRate = 0.01 })
	urlA, urlB := a.HTTP.URL(), b.HTTP.URL()
	var auth struct {
		AccessToken string `json:"access_token"`
		User        struct{ ID string }
	}
	if code := call(t, "POST", urlA+"/auth/register", "", map[string]string{"username": "hasty", "password": "password1"}, &auth); code != 201 || auth.User.ID == "" {
		t.Fatalf("register: %d %+v", code, auth)
	}
	var srv, ch struct{ ID string }
	if code := call(t, "POST", urlA+"/servers", auth.AccessToken, map[string]string{"name": "Paced"}, &srv); code != 201 {
		t.Fatalf("create server: %d", code)
	}
	if code := call(t, "POST", urlA+"/servers/"+srv.ID+"/channels", auth.AccessToken, map[string]string{"name": "general", "type": "text"}, &ch); code != 201 {
		t.Fatalf("create channel: %d", code)
	}
	if code := call(t, "POST", urlA+"/channels/"+ch.ID+"/messages", auth.AccessToken, map[string]string{"content": "through A"}, nil); code != 201 {
		t.Fatalf("the first message, through A: %d", code)
	}
	poll(t, "node B to charge node A's message", 10*time.Second, func() bool {
		return b.RateLimits().Remaining("together.message", auth.User.ID) == 0
	})
	if code := call(t, "POST", urlB+"/channels/"+ch.ID+"/messages", auth.AccessToken, map[string]string{"content": "through B at once"}, nil); code != 429 {
		t.Fatalf("the next message, through B: %d, want 429", code)
	}
}
