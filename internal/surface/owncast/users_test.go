package owncast_test

import (
	"fmt"
	"net/url"
	"testing"
)

type userPage struct {
	Total   int `json:"total"`
	Results []struct {
		ID            string   `json:"id"`
		DisplayName   string   `json:"displayName"`
		AuthProviders []string `json:"authProviders"`
	} `json:"results"`
}

func (p userPage) has(id string) bool {
	for _, u := range p.Results {
		if u.ID == id {
			return true
		}
	}
	return false
}

// TestAdminUsers follows Owncast 0.2's user-management suite: the paged
// list with search and status filters, moderators and disabled users from
// their routes, and deletion (unknown or missing id 400).
func TestAdminUsers(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	var ids []string
	for i := range 3 {
		ids = append(ids, n.register(t, fmt.Sprintf("user%d", i)).ID)
	}
	me := n.register(t, "quokka")
	list := func(query string) userPage {
		t.Helper()
		r := n.do(t, "GET", "/api/admin/users"+query, "admin", nil)
		if r.status != 200 {
			t.Fatalf("users%s: %d %s", query, r.status, r.body)
		}
		var p userPage
		r.json(t, &p)
		return p
	}
	if p := list("?offset=0&limit=50"); p.Total != 4 || len(p.Results) != 4 || p.Results[0].ID != me.ID {
		t.Fatalf("first page: %+v", p)
	}
	if p := list("?offset=0&limit=1"); p.Total != 4 || len(p.Results) != 1 {
		t.Fatalf("limit 1: %+v", p)
	}
	if p := list("?offset=3&limit=2"); p.Total != 4 || len(p.Results) != 1 || p.Results[0].ID != ids[0] {
		t.Fatalf("last page: %+v", p)
	}
	if p := list("?sort=asc&limit=1"); p.Results[0].ID != ids[0] {
		t.Fatalf("oldest first: %+v", p)
	}
	if p := list("?search=" + url.QueryEscape("QUOK")); p.Total != 1 || !p.has(me.ID) || len(p.Results[0].AuthProviders) != 0 {
		t.Fatalf("search: %+v", p)
	}
	if p := list("?search=" + url.QueryEscape("%")); p.Total != 0 {
		t.Fatalf("a LIKE wildcard matched: %+v", p)
	}
	if p := list("?status=bots&search=quokka"); p.has(me.ID) {
		t.Fatalf("bots list has a person: %+v", p)
	}
	if p := list("?status=authenticated"); p.Total != 0 {
		t.Fatalf("authenticated: %+v", p)
	}
	for _, bad := range []string{"?limit=-1", "?offset=x", "?status=nope", "?sort=up"} {
		if r := n.do(t, "GET", "/api/admin/users"+bad, "admin", nil); r.status != 400 {
			t.Errorf("%s: %d", bad, r.status)
		}
	}
	if r := n.do(t, "GET", "/api/admin/users", "", nil); r.status != 401 {
		t.Fatalf("no credentials: %d", r.status)
	}
	// Moderators and disabled users come from their own routes, and from
	// ?status=moderators and ?status=banned (one version of Owncast's
	// 012_usermanagement filters the list so).
	n.do(t, "POST", "/api/admin/chat/users/setmoderator", "admin", map[string]any{"userId": me.ID, "isModerator": true})
	if p := list("?status=moderators&search=quokka"); p.Total != 1 || !p.has(me.ID) {
		t.Fatalf("moderators: %+v", p)
	}
	if p := list("?status=banned&search=quokka"); p.Total != 0 {
		t.Fatalf("banned lists an active user: %+v", p)
	}
	n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": me.ID, "enabled": false})
	if p := list("?status=active"); p.Total != 3 || p.has(me.ID) {
		t.Fatalf("active excludes the disabled user: %+v", p)
	}
	if p := list("?status=banned"); p.Total != 1 || !p.has(me.ID) {
		t.Fatalf("banned: %+v", p)
	}
	r := n.do(t, "POST", "/api/admin/users/delete", "admin", map[string]any{"userId": me.ID})
	var res map[string]any
	r.json(t, &res)
	if r.status != 200 || res["success"] != true {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if p := list("?search=quokka"); p.has(me.ID) || p.Total != 0 {
		t.Fatalf("deleted user still listed: %+v", p)
	}
	for _, body := range []map[string]any{{"userId": "this-user-does-not-exist"}, {}, {"userId": me.ID}} {
		r := n.do(t, "POST", "/api/admin/users/delete", "admin", body)
		var res map[string]any
		r.json(t, &res)
		if r.status != 400 || res["success"] != false {
			t.Errorf("delete %v: %d %s", body, r.status, r.body)
		}
	}
}
