package owncast_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/owncast"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// receiver is a real HTTP webhook endpoint on loopback.
func receiver(t *testing.T) (string, func(netip.AddrPort) bool, chan delivery) {
	t.Helper()
	got := make(chan delivery, 256)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var d delivery
		if json.Unmarshal(b, &d) == nil {
			d.sig, d.raw = r.Header.Get("owncast-signature"), b
			got <- d
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	target := netip.MustParseAddrPort(u.Host)
	return srv.URL, func(ap netip.AddrPort) bool { return ap == target }, got
}

func next(t *testing.T, got chan delivery) delivery {
	t.Helper()
	select {
	case d := <-got:
		return d
	case <-time.After(hangGuard):
		t.Fatal("no webhook delivery within 20s")
		return delivery{}
	}
}

// TestStageChatWebhookFromOtherSurfaces: a message another surface (the
// Together API, the web UI) posts into the stage conversation fires
// Owncast's CHAT webhook, with Owncast's payload, exactly once although
// every node sees it on the bus.
func TestStageChatWebhookFromOtherSurfaces(t *testing.T) {
	t.Parallel()
	hookURL, allow, got := receiver(t)
	db := storetest.OpenSQLite(t)
	var shared bus.Bus = bus.NewLocal()
	t.Cleanup(func() { shared.Close() })
	conv := "stage-test-" + identity.NewID()
	opts := func() nodeOpts {
		b := shared
		if u := os.Getenv("HEARTH_TEST_NATS_URL"); u != "" {
			nb, err := bus.NewNATS(context.Background(), u, discard())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nb.Close() })
			b = nb
		}
		return nodeOpts{db: db, bus: b, conversation: conv, allow: allow, chat: func(o *owncast.ChatOptions) { o.FloodRate = -1 }}
	}
	a, b := newNode(t, opts()), newNode(t, opts())
	newNode(t, opts()) // a third node sees every event too
	var hook map[string]any
	if r := a.do(t, "POST", "/api/admin/webhooks/create", "admin", map[string]any{"url": hookURL + "/in", "events": []string{"CHAT"}}); r.status != 200 {
		t.Fatalf("create webhook: %d %s", r.status, r.body)
	} else {
		r.json(t, &hook)
	}
	ctx := context.Background()
	// A Together user: a registered Hearth account with no chat profile.
	acct, err := a.id.Register(ctx, identity.RegisterInput{Username: "togetherfan", Password: "password1", DisplayName: "Together Fan"})
	if err != nil {
		t.Fatal(err)
	}
	const k = 5
	want := map[string]string{}
	for i := range k {
		m, err := a.msgs.Post(ctx, messages.PostInput{ConversationID: conv, Kind: messages.KindStage, AuthorID: acct.ID,
			Body: fmt.Sprintf("hello **%d** from Together", i)})
		if err != nil {
			t.Fatal(err)
		}
		want[m.ID] = fmt.Sprintf("<p>hello <strong>%d</strong> from Together</p>", i)
	}
	// Hidden messages and messages of other conversations fire nothing.
	if _, err := a.msgs.Post(ctx, messages.PostInput{ConversationID: conv, Kind: messages.KindStage, AuthorID: acct.ID, Body: "hidden", Hidden: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.msgs.Post(ctx, messages.PostInput{ConversationID: "elsewhere-" + identity.NewID(), Kind: messages.KindChannel, AuthorID: acct.ID, Body: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	// A message through Owncast's own socket is delivered once, by its node.
	viewer := b.register(t, "viewer")
	vc := b.dial(t, viewer.AccessToken)
	vc.await("CONNECTED_USER_INFO", nil)
	vc.send(map[string]any{"type": "CHAT", "body": "from the socket"})
	sockID := vc.await("CHAT", func(e map[string]any) bool { return e["body"] == "<p>from the socket</p>" })["id"].(string)
	want[sockID] = "<p>from the socket</p>"

	seen := map[string]int{}
	for len(seen) < len(want) {
		d := next(t, got)
		if d.Type != "CHAT" {
			t.Fatalf("unexpected delivery %s", d.raw)
		}
		if !webhooks.Verify(hook["secret"].(string), d.sig, d.raw, time.Now(), time.Minute) {
			t.Fatalf("bad signature on %s", d.raw)
		}
		id, _ := d.EventData["id"].(string)
		if want[id] == "" {
			t.Fatalf("delivery for an unexpected message: %s", d.raw)
		}
		if seen[id]++; seen[id] > 1 {
			t.Fatalf("message %s delivered twice", id)
		}
		ed := d.EventData
		if ed["body"] != want[id] || ed["visible"] != true || ed["type"] != "CHAT" || ed["timestamp"] == nil {
			t.Fatalf("CHAT payload %s", d.raw)
		}
		u, _ := ed["user"].(map[string]any)
		if id == sockID {
			if u["displayName"] != "viewer" || ed["clientId"] == nil {
				t.Fatalf("socket CHAT payload %s", d.raw)
			}
			continue
		}
		if u["id"] != acct.ID || u["displayName"] != "Together Fan" || ed["rawBody"] == nil {
			t.Fatalf("foreign CHAT payload %s", d.raw)
		}
		if _, has := ed["clientId"]; has {
			t.Fatalf("foreign CHAT carries a clientId: %s", d.raw)
		}
	}
}
