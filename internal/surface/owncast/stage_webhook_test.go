package owncast_test

import (
	"context"
	"encoding/json"
	"errors"
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

// deadQueue is the webhook queue of a node that dies as it writes to it:
// every write fails having stored nothing.
type deadQueue struct{ webhooks.Queue }

var errDied = errors.New("node died")

func (deadQueue) AddDelivery(context.Context, *webhooks.Queued, int, bool) (bool, error) {
	return false, errDied
}

func (deadQueue) AddDeliveriesOnce(context.Context, string, time.Time, []*webhooks.Queued, int, bool) (bool, []bool, error) {
	return false, nil, errDied
}

// TestStageChatWebhookSurvivesTheClaimingNode: the node that first takes up
// a message another surface posted, and dies before its CHAT webhook is in
// the queue, leaves it to the next node that sees the message, which
// queues and sends it. (The claim was once taken in a statement of its
// own, before the queue: the dead node held it and nobody sent the
// webhook.) The nodes see the message one after the other, not on the bus,
// so the dying one is first.
func TestStageChatWebhookSurvivesTheClaimingNode(t *testing.T) {
	t.Parallel()
	hookURL, allow, got := receiver(t)
	db := storetest.OpenSQLite(t)
	conv := "stage-test-" + identity.NewID()
	opts := nodeOpts{db: db, bus: bus.NewLocal(), conversation: conv, allow: allow}
	t.Cleanup(func() { opts.bus.Close() })
	dying := opts
	dying.webhookQueue = func(q webhooks.Queue) webhooks.Queue { return deadQueue{q} }
	a, b := newNode(t, dying), newNode(t, opts)
	if r := b.do(t, "POST", "/api/admin/webhooks/create", "admin", map[string]any{"url": hookURL + "/in", "events": []string{"CHAT"}}); r.status != 200 {
		t.Fatalf("create webhook: %d %s", r.status, r.body)
	}
	ctx := context.Background()
	acct, err := b.id.Register(ctx, identity.RegisterInput{Username: "togetherfan", Password: "password1", DisplayName: "Together Fan"})
	if err != nil {
		t.Fatal(err)
	}
	author := acct.ID
	m := &messages.Message{ID: identity.NewID(), ConversationID: conv, Kind: messages.KindStage, AuthorID: &author,
		Body: "hello from Together", CreatedAt: time.Now().UTC()}
	ev, err := json.Marshal(messages.Event{Type: messages.EventCreated, Message: m})
	if err != nil {
		t.Fatal(err)
	}
	a.surface.StageMessageWebhook(ev) // dies before the webhook is queued
	b.surface.StageMessageWebhook(ev)
	d := next(t, got)
	if d.Type != "CHAT" || d.EventData["id"] != m.ID || d.EventData["rawBody"] != "hello from Together" {
		t.Fatalf("delivery %s", d.raw)
	}
}
