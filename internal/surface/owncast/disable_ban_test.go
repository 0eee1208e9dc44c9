package owncast_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/owncast"
)

func trustProxy(o *owncast.ChatOptions) { o.TrustProxy = true; o.FloodRate = -1 }

func xff(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }

type ban struct {
	IPAddress string `json:"ipAddress"`
	Notes     string `json:"notes"`
	CreatedAt string `json:"createdAt"`
}

func (n *node) bans(t *testing.T) []ban {
	t.Helper()
	var out []ban
	n.do(t, "GET", "/api/admin/chat/users/ipbans", "admin", nil).json(t, &out)
	return out
}

func banned(bs []ban) []string {
	var ips []string
	for _, b := range bs {
		ips = append(ips, b.IPAddress)
	}
	slices.Sort(ips)
	return ips
}

// TestDisableBansConnectedIPs: disabling a chat user bans the addresses
// of the user's open connections (Owncast's handleUserDisabling), except
// loopback; re-enabling lifts no ban, as in Owncast.
func TestDisableBansConnectedIPs(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{chat: trustProxy})
	spammer, other := n.register(t, "spammer"), n.register(t, "bystander")
	var socks []*chatClient
	for _, h := range []http.Header{xff("203.0.113.7"), xff("2001:db8::9"), xff("::ffff:198.51.100.4"), nil, xff("127.0.0.1")} {
		c := n.dialWith(t, spammer.AccessToken, h)
		c.await("CONNECTED_USER_INFO", nil)
		socks = append(socks, c)
	}
	oc := n.dialWith(t, other.AccessToken, xff("192.0.2.50"))
	oc.await("CONNECTED_USER_INFO", nil)

	if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": spammer.ID, "enabled": false}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	bs := n.bans(t)
	want := []string{"198.51.100.4", "2001:db8::9", "203.0.113.7"}
	if got := banned(bs); !slices.Equal(got, want) {
		t.Fatalf("bans %v, want %v (loopback and the bystander's address never)", got, want)
	}
	for _, b := range bs {
		if b.Notes != "Banning of spammer" || b.CreatedAt == "" {
			t.Fatalf("ban entry %+v", b)
		}
	}
	for _, c := range socks {
		c.await("ERROR_USER_DISABLED", nil)
		c.awaitClosed()
	}

	cases := []struct {
		name   string
		do     func() reply
		status int
	}{
		{"register from a banned address", func() reply {
			return n.do(t, "POST", "/api/chat/register", "", map[string]string{"displayName": "again"}, "X-Forwarded-For", "203.0.113.7")
		}, 401},
		{"another user's token from a banned address", func() reply {
			return n.do(t, "GET", "/api/chat?accessToken="+other.AccessToken, "", nil, "X-Forwarded-For", "2001:db8::9")
		}, 401},
		{"the bystander's own address", func() reply {
			return n.do(t, "GET", "/api/chat?accessToken="+other.AccessToken, "", nil, "X-Forwarded-For", "192.0.2.50")
		}, 200},
		{"loopback stays usable", func() reply {
			return n.do(t, "GET", "/api/chat?accessToken="+other.AccessToken, "", nil)
		}, 200},
	}
	for _, tc := range cases {
		if r := tc.do(); r.status != tc.status {
			t.Fatalf("%s: %d, want %d (%s)", tc.name, r.status, tc.status, r.body)
		}
	}

	// Re-enabling the user keeps the bans (Owncast lifts none).
	if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": spammer.ID, "enabled": true}); r.status != 200 {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}
	if got := banned(n.bans(t)); !slices.Equal(got, want) {
		t.Fatalf("bans after re-enable %v, want %v", got, want)
	}
	if r := n.do(t, "GET", "/api/chat?accessToken="+spammer.AccessToken, "", nil); r.status != 200 {
		t.Fatalf("re-enabled user from loopback: %d", r.status)
	}
	// Disabling an unknown user bans nothing and answers Owncast's error.
	if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": "nobody", "enabled": false}); r.status == 200 || r.status >= 500 {
		t.Fatalf("unknown user: %d", r.status)
	}
}

// TestDisableBansAcrossNodes: the user's connection is on node B, the admin
// disables them on node A; node B bans that connection's address.
func TestDisableBansAcrossNodes(t *testing.T) {
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
		return nodeOpts{db: db, bus: b, conversation: conv, chat: trustProxy}
	}
	a, b := newNode(t, opts()), newNode(t, opts())
	u := a.register(t, "roamer")
	c := b.dialWith(t, u.AccessToken, xff("203.0.113.99"))
	c.await("CONNECTED_USER_INFO", nil)
	if r := a.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": u.ID, "enabled": false}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	c.await("ERROR_USER_DISABLED", nil)
	// Node B writes the ban when the event reaches it, after A answered.
	deadline := time.Now().Add(hangGuard)
	for !slices.Equal(banned(a.bans(t)), []string{"203.0.113.99"}) {
		if time.Now().After(deadline) {
			t.Fatalf("bans %v", a.bans(t))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
