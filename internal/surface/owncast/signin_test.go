package owncast_test

import (
	"encoding/json"
	"strconv"
	"testing"
)

// TestAdminBasicBruteForceLimited: Owncast's admin Basic auth had no limit
// (60 wrong passwords in 8 s). Wrong passwords for "admin" now reach a 429
// in Owncast's {success:false,message} shape with Retry-After, and the
// right password is refused while limited.
func TestAdminBasicBruteForceLimited(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	for i := range 50 {
		r := n.do(t, "GET", "/api/admin/serverconfig", "basic:wrong-password", nil)
		if r.status == 401 {
			continue
		}
		if r.status != 429 || i == 0 {
			t.Fatalf("try %d: %d %s", i, r.status, r.body)
		}
		var body struct {
			Success *bool  `json:"success"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil || body.Success == nil || *body.Success || body.Message == "" {
			t.Fatalf("429 body %s", r.body)
		}
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		if r.header.Get("WWW-Authenticate") != "" {
			t.Fatal("a limited request is challenged again")
		}
		if r := n.do(t, "GET", "/api/admin/serverconfig", "admin", nil); r.status != 429 {
			t.Fatalf("right password while limited: %d %s", r.status, r.body)
		}
		return
	}
	t.Fatal("50 wrong passwords and no 429")
}

// TestAdminAtWorkNotLockedOut: every admin request checks its password
// (as Owncast's does), but while a stranger's wrong passwords have the
// sign-in limits refusing "admin", the admin whose password verified on
// this node a moment ago keeps working; the stranger stays refused.
func TestAdminAtWorkNotLockedOut(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	if r := n.do(t, "GET", "/api/admin/serverconfig", "admin", nil); r.status != 200 {
		t.Fatalf("the admin at work: %d %s", r.status, r.body)
	}
	for i := range 50 {
		r := n.do(t, "GET", "/api/admin/serverconfig", "basic:wrong-password", nil)
		if r.status == 401 {
			continue
		}
		if r.status != 429 || i == 0 {
			t.Fatalf("try %d: %d %s", i, r.status, r.body)
		}
		if r := n.do(t, "GET", "/api/admin/serverconfig", "admin", nil); r.status != 200 {
			t.Fatalf("the admin while a stranger is limited: %d %s", r.status, r.body)
		}
		if r := n.do(t, "GET", "/api/admin/serverconfig", "basic:wrong-password", nil); r.status != 429 {
			t.Fatalf("the stranger after the admin's request: %d", r.status)
		}
		return
	}
	t.Fatal("50 wrong passwords and no 429")
}
