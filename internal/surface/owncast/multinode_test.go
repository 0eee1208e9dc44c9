package owncast_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/owncast"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// TestTwoNodes runs two nodes on one database and one bus (NATS when
// HEARTH_TEST_NATS_URL is set, else the in-process bus): a chat user
// registered on one node chats with a socket on the other, moderation on
// one reaches the other, and settings changed on one are served by both.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	var shared bus.Bus = bus.NewLocal()
	t.Cleanup(func() { shared.Close() })
	conv := "stage-test-" + identity.NewID()
	opts := func() nodeOpts {
		b := shared
		if url := os.Getenv("HEARTH_TEST_NATS_URL"); url != "" {
			nb, err := bus.NewNATS(context.Background(), url, discard())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nb.Close() })
			b = nb
		}
		return nodeOpts{db: db, bus: b, conversation: conv, chat: func(o *owncast.ChatOptions) { o.FloodRate = -1 }}
	}
	a, b := newNode(t, opts()), newNode(t, opts())
	alice := a.register(t, "alice")
	bob := b.register(t, "bob")
	ac, bc := a.dial(t, alice.AccessToken), b.dial(t, bob.AccessToken)
	ac.await("CONNECTED_USER_INFO", nil)
	bc.await("CONNECTED_USER_INFO", nil)
	// A token from node A works on node B.
	if r := b.do(t, "GET", "/api/chat?accessToken="+alice.AccessToken, "", nil); r.status != 200 {
		t.Fatalf("cross-node token: %d", r.status)
	}
	ac.send(map[string]any{"type": "CHAT", "body": "from node A"})
	if ev := bc.await("CHAT", nil); ev["body"] != "<p>from node A</p>" || ev["user"].(map[string]any)["displayName"] != "alice" {
		t.Fatalf("cross-node CHAT %v", ev)
	}
	ac.send(map[string]any{"type": "NAME_CHANGE", "newName": "alicia"})
	bc.await("NAME_CHANGE", nil)
	if r := b.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": alice.ID, "enabled": false}); r.status != 200 {
		t.Fatalf("disable on B: %d", r.status)
	}
	ac.await("ERROR_USER_DISABLED", nil)
	ac.awaitClosed()

	if r := a.do(t, "POST", "/api/admin/config/name", "admin", map[string]any{"value": "Renamed on A"}); r.status != 200 {
		t.Fatalf("set name: %d", r.status)
	}
	deadline := time.Now().Add(hangGuard)
	for {
		var cfg map[string]any
		b.do(t, "GET", "/api/config", "", nil).json(t, &cfg)
		if cfg["name"] == "Renamed on A" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node B still serves name %v", cfg["name"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhookChangesReachEveryNode: each node keeps the list of webhooks in
// memory; a webhook created on node A receives the events that happen on
// node B, and one deleted on A receives no more of them, once B has heard
// the change on the bus. Before, B kept the list it had read first: events
// on B never reached a webhook made on A, and went on reaching (signed with
// its old secret) one deleted there.
func TestWebhookChangesReachEveryNode(t *testing.T) {
	t.Parallel()
	hookURL, allow, got := receiver(t)
	db := storetest.OpenSQLite(t)
	var shared bus.Bus = bus.NewLocal()
	t.Cleanup(func() { shared.Close() })
	conv := "stage-test-" + identity.NewID()
	opts := func() nodeOpts {
		b := shared
		if url := os.Getenv("HEARTH_TEST_NATS_URL"); url != "" {
			nb, err := bus.NewNATS(context.Background(), url, discard())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nb.Close() })
			b = nb
		}
		return nodeOpts{db: db, bus: b, conversation: conv, allow: allow, chat: func(o *owncast.ChatOptions) { o.FloodRate = -1 }}
	}
	a, b := newNode(t, opts()), newNode(t, opts())
	create := func(events ...string) map[string]any {
		var hook map[string]any
		r := a.do(t, "POST", "/api/admin/webhooks/create", "admin", map[string]any{"url": hookURL + "/in", "events": events})
		if r.status != 200 {
			t.Fatalf("create webhook on A: %d %s", r.status, r.body)
		}
		r.json(t, &hook)
		return hook
	}
	ctx := context.Background()
	// B reads the list while it holds one webhook, and keeps it.
	create(webhooks.Chat)
	if !b.hooks.Subscribed(ctx, webhooks.Chat) {
		t.Fatal("node B does not see the first webhook")
	}
	renames := create(webhooks.NameChange)
	until := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(hangGuard); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("node B %s", what)
			}
		}
	}
	until("never saw the webhook created on A", func() bool { return b.hooks.Subscribed(ctx, webhooks.NameChange) })
	// And an event on B is delivered to it.
	bob := b.register(t, "bob")
	bc := b.dial(t, bob.AccessToken)
	bc.await("CONNECTED_USER_INFO", nil)
	bc.send(map[string]any{"type": "NAME_CHANGE", "newName": "robert"})
	for {
		d := next(t, got)
		if d.Type != webhooks.NameChange {
			continue
		}
		if !webhooks.Verify(renames["secret"].(string), d.sig, d.raw, time.Now(), time.Minute) {
			t.Fatalf("NAME_CHANGE not signed by the webhook made on A: %s", d.raw)
		}
		break
	}
	if r := a.do(t, "POST", "/api/admin/webhooks/delete", "admin", map[string]any{"id": renames["id"]}); r.status != 200 {
		t.Fatalf("delete webhook on A: %d %s", r.status, r.body)
	}
	until("still sends to the webhook deleted on A", func() bool { return !b.hooks.Subscribed(ctx, webhooks.NameChange) })
}
