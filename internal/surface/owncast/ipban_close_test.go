package owncast_test

import (
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/owncast"
)

// TestIPBanClosesOpenSockets: a ban made with ipbans/create closes the chat
// sockets already open from an address it covers (an IPv6 address's /64,
// an IPv4 address alone), on the node that took the request and on the
// others, where Owncast refuses only new connections; sockets from other
// addresses stay. The addresses come through X-Forwarded-For with
// TrustProxy. Two nodes share a database and a bus (NATS when
// HEARTH_TEST_NATS_URL is set).
func TestIPBanClosesOpenSockets(t *testing.T) {
	t.Parallel()
	chat := func(o *owncast.ChatOptions) { o.TrustProxy = true; o.FloodRate = -1 }
	for _, tc := range []struct {
		name  string
		nodes func(t *testing.T) (a, b *node)
	}{
		{"one node", func(t *testing.T) (*node, *node) {
			n := newNode(t, nodeOpts{chat: chat})
			return n, n
		}},
		{"two nodes", func(t *testing.T) (*node, *node) {
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
				return nodeOpts{db: db, bus: b, conversation: conv, chat: chat}
			}
			return newNode(t, opts()), newNode(t, opts())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := tc.nodes(t)
			// Sockets on both nodes; the ban is made on a.
			type sock struct {
				name, from string
				on         *node
				banned     bool
				c          *chatClient
			}
			socks := []*sock{
				{name: "v6a", from: "2001:db8:1:2::1", on: a, banned: true},
				{name: "v6b", from: "2001:db8:1:2:ffff::9", on: b, banned: true},
				{name: "v6other", from: "2001:db8:1:3::1", on: b},
				{name: "v4a", from: "192.0.2.1", on: b, banned: true},
				{name: "v4b", from: "192.0.2.1", on: a, banned: true},
				{name: "v4other", from: "192.0.2.2", on: b},
			}
			for _, s := range socks {
				u := s.on.register(t, s.name)
				s.c = s.on.dialWith(t, u.AccessToken, http.Header{"X-Forwarded-For": {s.from}})
				s.c.await("CONNECTED_USER_INFO", nil)
			}
			for _, ip := range []string{"2001:db8:1:2::5", "192.0.2.1"} {
				if r := a.do(t, "POST", "/api/admin/chat/users/ipbans/create", "admin", map[string]any{"value": ip}); r.status != 200 {
					t.Fatalf("ban %s: %d %s", ip, r.status, r.body)
				}
			}
			for _, s := range socks {
				if s.banned {
					s.c.awaitClosed()
					if code := websocket.CloseStatus(s.c.err); code != websocket.StatusPolicyViolation {
						t.Errorf("%s (%s): closed with %v, want policy violation", s.name, s.from, s.c.err)
					}
				}
			}
			// A rename announced after the bans reaches the sockets they do
			// not cover, after the ban events on the same topic: they were
			// left open.
			var other *sock
			for _, s := range socks {
				if !s.banned {
					other = s
				}
			}
			other.c.send(map[string]any{"type": "NAME_CHANGE", "newName": "still-here"})
			for _, s := range socks {
				if !s.banned {
					s.c.await("NAME_CHANGE", func(ev map[string]any) bool {
						return ev["user"].(map[string]any)["displayName"] == "still-here"
					})
				}
			}
			// A new socket from a banned address is refused, as before.
			late := b.register(t, "late")
			ws, res, err := websocket.Dial(context.Background(), "ws"+b.url[len("http"):]+"/ws?accessToken="+late.AccessToken,
				&websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {"192.0.2.1"}}})
			if err == nil {
				_ = ws.CloseNow()
			}
			if res == nil || res.StatusCode != http.StatusForbidden {
				t.Errorf("new socket from a banned address: %v %v", res, err)
			}
		})
	}
}
