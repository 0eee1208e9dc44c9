package watch

import "testing"

// TestAccountRenamedShowsInRooms: an account renamed on any surface shows
// under its new name on each of its connections in every room, and only
// those; a repeat of the same rename announces nothing.
func TestAccountRenamedShowsInRooms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r1, r2 := e.room("one", "owner"), e.room("two", "")
	u, other := registered("u"), registered("v")
	for _, j := range []struct {
		r      *Room
		a      Actor
		client string
	}{{r1, u, "c1"}, {r1, other, "c2"}, {r2, u, "c3"}} {
		if err := j.r.Join(j.a, j.client); err != nil {
			t.Fatal(err)
		}
	}
	e.rec.take()
	e.svc.AccountRenamed("u", "Ursula")
	updates := 0
	for _, p := range e.rec.take() {
		if p.ev.Type == EvUser && p.ev.User != nil && p.ev.User.Kind == "update" {
			updates++
		}
	}
	if updates != 2 {
		t.Fatalf("%d user updates, want 2 (one per connection of the account)", updates)
	}
	for _, r := range []*Room{r1, r2} {
		for _, info := range r.Users() {
			want := "user v"
			if info.ID != "c2" {
				want = "Ursula"
			}
			if info.Name != want {
				t.Fatalf("room %s: %s shown as %q, want %q", r.Name(), info.ID, info.Name, want)
			}
		}
	}
	e.svc.AccountRenamed("u", "Ursula")
	if n := len(e.rec.take()); n != 0 {
		t.Fatalf("a repeated rename published %d events", n)
	}
}
