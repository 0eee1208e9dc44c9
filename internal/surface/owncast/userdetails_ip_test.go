package owncast_test

import "testing"

// TestUserDetailsHideTheAddress: a chat moderator's (and an integration's)
// view of a user lists that user's connections without their IP address,
// as Owncast's; the admin's list of clients still has it. Without a GeoIP
// database the connections carry no geo (Owncast's is a string, omitted).
func TestUserDetailsHideTheAddress(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	viewer, mod := n.register(t, "viewer"), n.register(t, "mod")
	vc := n.dial(t, viewer.AccessToken)
	vc.await("CONNECTED_USER_INFO", nil)
	if r := n.do(t, "POST", "/api/admin/chat/users/setmoderator", "admin", map[string]any{"userId": mod.ID, "isModerator": true}); r.status != 200 {
		t.Fatalf("setmoderator: %d %s", r.status, r.body)
	}
	var tok map[string]any
	n.do(t, "POST", "/api/admin/accesstokens/create", "admin", map[string]any{"name": "t",
		"scopes": []string{"HAS_ADMIN_ACCESS"}}).json(t, &tok)
	for _, c := range []struct{ path, auth string }{
		{"/api/moderation/chat/user/" + viewer.ID + "?accessToken=" + mod.AccessToken, ""},
		{"/api/integrations/moderation/chat/user/" + viewer.ID, "bearer:" + tok["accessToken"].(string)},
	} {
		var det struct {
			ConnectedClients []map[string]any `json:"connectedClients"`
		}
		r := n.do(t, "GET", c.path, c.auth, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", c.path, r.status, r.body)
		}
		r.json(t, &det)
		if len(det.ConnectedClients) != 1 {
			t.Fatalf("%s: connections %s", c.path, r.body)
		}
		if ip, ok := det.ConnectedClients[0]["ipAddress"]; ok {
			t.Fatalf("%s: the viewer's address %v is shown", c.path, ip)
		}
		// Owncast's geo here is a country-code string (its spec's type),
		// left out when unknown; null breaks clients validating against it.
		if g, ok := det.ConnectedClients[0]["geo"]; ok {
			t.Fatalf("%s: geo %v is sent; Owncast leaves it out without a country code", c.path, g)
		}
	}
	var clients []map[string]any
	n.do(t, "GET", "/api/admin/chat/clients", "admin", nil).json(t, &clients)
	if len(clients) != 1 || clients[0]["ipAddress"] == nil {
		t.Fatalf("admin clients %v", clients)
	}
}
