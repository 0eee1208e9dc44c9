package owncast_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/surface/owncast"
	"github.com/hearth-community/hearth/internal/webhooks"
)

type delivery struct {
	Type      string         `json:"type"`
	EventData map[string]any `json:"eventData"`
	sig       string
	raw       []byte
}

// TestWebhookEvents drives chat through real sockets and checks the signed
// webhook deliveries Owncast integrations receive.
func TestWebhookEvents(t *testing.T) {
	t.Parallel()
	got := make(chan delivery, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var d delivery
		if json.Unmarshal(b, &d) == nil {
			d.sig, d.raw = r.Header.Get("owncast-signature"), b
			got <- d
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	target := netip.MustParseAddrPort(u.Host)
	n := newNode(t, nodeOpts{
		allow:    func(ap netip.AddrPort) bool { return ap == target },
		presence: stagechat.PresenceConfig{Window: 10 * time.Millisecond},
		chat:     func(o *owncast.ChatOptions) { o.FloodRate = -1; o.WelcomeDelay = 10 * time.Millisecond },
	})
	var hook map[string]any
	r := n.do(t, "POST", "/api/admin/webhooks/create", "admin", map[string]any{"url": srv.URL + "/in",
		"events": []string{"CHAT", "NAME_CHANGE", "USER_JOINED", "VISIBILITY-UPDATE", "STREAM_TITLE_UPDATED"}})
	r.json(t, &hook)
	if r.status != 200 || hook["url"] != srv.URL+"/in" || hook["timestamp"] == nil || len(hook["events"].([]any)) != 5 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for _, bad := range []string{"http://127.0.0.1:1/x", "http://169.254.169.254/", "http://[::ffff:127.0.0.1]/"} {
		if r := n.do(t, "POST", "/api/admin/webhooks/create", "admin", map[string]any{"url": bad, "events": []string{"CHAT"}}); r.status != 400 {
			t.Fatalf("SSRF url %s: %d", bad, r.status)
		}
	}
	n.do(t, "POST", "/api/admin/config/welcomemessage", "admin", map[string]any{"value": "Welcome, **friend**"})
	n.chat.Presence().SetOnline(t.Context(), true)

	watcher := n.register(t, "watcher")
	wc := n.dial(t, watcher.AccessToken)
	wc.await("CONNECTED_USER_INFO", nil)
	if w := wc.await("SYSTEM", nil); w["body"] != "<p>Welcome, <strong>friend</strong></p>" {
		t.Fatalf("welcome %v", w)
	}
	alice := n.register(t, "alice")
	ac := n.dial(t, alice.AccessToken)
	ac.await("CONNECTED_USER_INFO", nil)
	if j := wc.await("USER_JOINED", func(e map[string]any) bool { return e["user"].(map[string]any)["displayName"] == "alice" }); j == nil {
		t.Fatal("no join")
	}
	ac.send(map[string]any{"type": "CHAT", "body": "hi <b>there</b>"})
	chat := wc.await("CHAT", nil)
	ac.send(map[string]any{"type": "NAME_CHANGE", "newName": "alicia"})
	wc.await("NAME_CHANGE", nil)
	n.do(t, "POST", "/api/admin/chat/messagevisibility", "admin", map[string]any{"idArray": []string{chat["id"].(string)}, "visible": false})
	n.do(t, "POST", "/api/admin/config/streamtitle", "admin", map[string]any{"value": "Now live"})

	seen := map[string]delivery{}
	timeout := time.After(hangGuard)
	for len(seen) < 5 {
		select {
		case d := <-got:
			if _, dup := seen[d.Type]; !dup || d.Type != "USER_JOINED" {
				seen[d.Type] = d
			}
		case <-timeout:
			t.Fatalf("deliveries so far: %v", seen)
		}
	}
	secret := ""
	var list []map[string]any
	n.do(t, "GET", "/api/admin/webhooks", "admin", nil).json(t, &list)
	if len(list) != 1 {
		t.Fatalf("webhooks %v", list)
	}
	secret, _ = list[0]["secret"].(string)
	for typ, d := range seen {
		if !webhooks.Verify(secret, d.sig, d.raw, time.Now(), 5*time.Minute) {
			t.Errorf("%s: signature %q does not verify", typ, d.sig)
		}
	}
	c := seen["CHAT"].EventData
	if c["rawBody"] != "hi <b>there</b>" || c["body"] != "<p>hi there</p>" || c["user"].(map[string]any)["displayName"] != "alice" {
		t.Errorf("CHAT payload %v", c)
	}
	if nc := seen["NAME_CHANGE"].EventData; nc["newName"] != "alicia" {
		t.Errorf("NAME_CHANGE payload %v", nc)
	}
	if vu := seen["VISIBILITY-UPDATE"].EventData; vu["visible"] != false || vu["ids"].([]any)[0] != chat["id"] {
		t.Errorf("VISIBILITY-UPDATE payload %v", vu)
	}
	if st := seen["STREAM_TITLE_UPDATED"].EventData; st["streamTitle"] != "Now live" || st["status"] == nil {
		t.Errorf("STREAM_TITLE_UPDATED payload %v", st)
	}
	// Delete stops deliveries' subscription listing.
	if r := n.do(t, "POST", "/api/admin/webhooks/delete", "admin", map[string]any{"id": list[0]["id"]}); r.status != 200 {
		t.Fatalf("delete: %d", r.status)
	}
	n.do(t, "GET", "/api/admin/webhooks", "admin", nil).json(t, &list)
	if len(list) != 0 {
		t.Fatalf("after delete %v", list)
	}
}
