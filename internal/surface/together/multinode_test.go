package together_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// twoNodes runs the surface twice, as two nodes of a cluster on one
// PostgreSQL database and one NATS server (its topics, presence's too,
// under a prefix of this test's own); wire, if not nil, adds what a test needs to each
// node's dependencies, given that node's database and bus. It skips the
// test without HEARTH_TEST_POSTGRES_URL and HEARTH_TEST_NATS_URL.
func twoNodes(t *testing.T, wire func(d *together.Deps, db *store.DB, b bus.Bus)) (n1, n2 *env) {
	t.Helper()
	natsURL := os.Getenv("HEARTH_TEST_NATS_URL")
	if natsURL == "" || storetest.PostgresURL() == "" {
		t.Skip("needs HEARTH_TEST_POSTGRES_URL and HEARTH_TEST_NATS_URL")
	}
	ctx := context.Background()
	dsn := storetest.PostgresDSN(t)
	prefix := "t" + strings.ReplaceAll(rand.Text(), "=", "")
	var nodes []*env
	for i := range 2 {
		db, err := store.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if i == 0 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		nb, err := bus.NewNATS(ctx, natsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := bus.WithPrefix(nb, prefix)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, newNode(t, db, b, func(d *together.Deps) {
			d.PresenceBus = b // as the app wires it: who has a socket is known cluster-wide
			if wire != nil {
				wire(d, db, b)
			}
		}))
	}
	return nodes[0], nodes[1]
}

// TestTwoNodes runs two nodes on one PostgreSQL and one NATS: a message
// posted through node 1 reaches a socket on node 2, and a permission change
// made on node 1 filters node 2's deliveries.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	n1, n2 := twoNodes(t, nil)
	ann, bob := n1.register("ann"), n2.register("bob")
	srv, _ := n1.must(201, "POST", "/servers", ann.access, map[string]any{"name": "N", "is_public": true})
	sid := srv["id"].(string)
	n2.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
	secret, _ := n1.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "secret", "type": "text"})
	open, _ := n1.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "open", "type": "text"})
	wb, _, err := n2.dial("token=" + bob.access)
	if err != nil {
		t.Fatal(err)
	}
	wb.waitFor("READY")
	n1.must(201, "POST", "/channels/"+secret["id"].(string)+"/messages", ann.access, map[string]any{"content": "first across nodes"})
	if f := wb.waitFor("MESSAGE_CREATE"); !strings.Contains(string(f.D), "first across nodes") {
		t.Fatalf("node 2 got %s", f.D)
	}
	n1.must(200, "PUT", "/channels/"+secret["id"].(string)+"/overrides", ann.access, map[string]any{"user_id": bob.id, "allow": 0, "deny": 1})
	wb.waitFor("CHANNEL_OVERRIDE_UPDATE") // node 2 has seen the change
	n1.must(201, "POST", "/channels/"+secret["id"].(string)+"/messages", ann.access, map[string]any{"content": "hidden from bob"})
	n1.must(201, "POST", "/channels/"+open["id"].(string)+"/messages", ann.access, map[string]any{"content": "sentinel"})
	for {
		f := wb.waitFor("MESSAGE_CREATE")
		if strings.Contains(string(f.D), "hidden from bob") {
			t.Fatal("node 2 delivered a message from a channel bob may no longer view")
		}
		if strings.Contains(string(f.D), "sentinel") {
			break
		}
	}
	// Voice: states are shared, so a signal sent through node 1 reaches a
	// peer connected to node 2.
	vc, _ := n1.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
	vid := vc["id"].(string)
	n1.must(201, "POST", "/channels/"+vid+"/voice", ann.access, nil)
	n2.must(201, "POST", "/channels/"+vid+"/voice", bob.access, nil)
	_, parts := n2.must(200, "GET", "/channels/"+vid+"/voice", bob.access, nil)
	if len(parts) != 2 {
		t.Fatalf("participants seen by node 2: %v", parts)
	}
	wa, _, err := n1.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	wa.waitFor("READY")
	wa.send(map[string]any{"op": "VOICE_SIGNAL", "t": nil, "d": map[string]any{"to_user_id": bob.id, "type": "offer", "sdp": "v=0"}})
	if f := wb.waitFor("VOICE_SIGNAL"); !strings.Contains(string(f.D), ann.id) {
		t.Fatalf("signal %s", f.D)
	}
}
