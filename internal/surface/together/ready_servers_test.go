package together_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// serverReads counts the reads READY used to make once per server (or
// more): a server's standing (MemberStanding, HeldRoles), roles, channels
// and overrides.
type serverReads struct {
	community.Store
	n atomic.Int64
}

func (s *serverReads) MemberStanding(ctx context.Context, communityID, accountID string) (*community.Standing, error) {
	s.n.Add(1)
	return s.Store.MemberStanding(ctx, communityID, accountID)
}

func (s *serverReads) HeldRoles(ctx context.Context, communityID, accountID string) ([]*community.Role, []string, error) {
	s.n.Add(1)
	return s.Store.HeldRoles(ctx, communityID, accountID)
}

func (s *serverReads) Roles(ctx context.Context, communityID string) ([]*community.Role, error) {
	s.n.Add(1)
	return s.Store.Roles(ctx, communityID)
}

func (s *serverReads) Channels(ctx context.Context, communityID string) ([]*community.Channel, error) {
	s.n.Add(1)
	return s.Store.Channels(ctx, communityID)
}

func (s *serverReads) OverridesOfCommunity(ctx context.Context, communityID string) ([]*community.Override, error) {
	s.n.Add(1)
	return s.Store.OverridesOfCommunity(ctx, communityID)
}

// TestReadyReadsServersAtOnce: READY reads an account's servers with their
// roles, channels and overrides together, so what it costs does not grow
// with the servers: an account in 40 servers (each with channels, roles,
// one of them its own, and overrides, one hiding a channel) gets READY with fewer per-server reads than it has servers
// (there were five per server: 200, and 1,000 for the 200 an account may
// join), and with as many as an account in 3.
func TestReadyReadsServersAtOnce(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			st := &serverReads{Store: db.Community()}
			e := newNodeOver(t, db, bus.NewLocal(), db.Identity(), st)
			owner, few, many := e.register("owner"), e.register("few"), e.register("many")
			const nFew, nMany = 3, 40
			seedServers(t, db, owner.id, few.id, "f", nFew)
			seedServers(t, db, owner.id, many.id, "m", nMany)

			ready := func(u user, n int) int64 {
				t.Helper()
				before := st.n.Load()
				w, _, err := e.dial("token=" + u.access)
				if err != nil {
					t.Fatal(err)
				}
				var rd struct {
					Servers     []json.RawMessage          `json:"servers"`
					ServerRoles map[string]json.RawMessage `json:"server_roles"`
				}
				if err := json.Unmarshal(w.waitFor("READY").D, &rd); err != nil || len(rd.Servers) != n || len(rd.ServerRoles) != n {
					t.Fatalf("%s: READY with %d servers and roles of %d, want %d (%v)", u.name, len(rd.Servers), len(rd.ServerRoles), n, err)
				}
				return st.n.Load() - before
			}
			a, b := ready(few, nFew), ready(many, nMany)
			if b >= nMany || a != b {
				t.Errorf("READY: %d per-server reads for %d servers, %d for %d", a, nFew, b, nMany)
			}
		})
	}
}

// seedServers stores n public servers named prefix0… of owner, each with
// five channels (three text, two voice), three roles of which member holds
// one, and two overrides on the first text channel: that role's, and one
// that hides the channel from member; member is a member of each.
func seedServers(t testing.TB, db *store.DB, owner, member, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	st := db.Community()
	start := time.Now().UTC().Add(-time.Hour)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Millisecond)
		c := &community.Community{ID: identity.NewID(), Name: fmt.Sprintf("%s%d", prefix, i), OwnerID: owner, IsPublic: true,
			CreatedAt: at, UpdatedAt: at}
		var chans []*community.Channel
		for j, kind := range []string{community.KindText, community.KindText, community.KindText, community.KindVoice, community.KindVoice} {
			chans = append(chans, &community.Channel{ID: identity.NewID(), CommunityID: c.ID, Name: fmt.Sprint("ch", j), Kind: kind,
				Position: j, CreatedAt: at})
		}
		if err := st.CreateCommunity(ctx, c, chans, community.MaxServersJoined); err != nil {
			t.Fatal(err)
		}
		if err := st.AddMember(ctx, c.ID, member, at, community.MaxServersJoined, ""); err != nil {
			t.Fatal(err)
		}
		var held string
		for j := range 3 {
			r := &community.Role{ID: identity.NewID(), CommunityID: c.ID, Name: fmt.Sprint("r", j), Position: j + 1, CreatedAt: at}
			if err := st.CreateRole(ctx, r, community.MaxRoles); err != nil {
				t.Fatal(err)
			}
			if j == 0 {
				held = r.ID
			}
		}
		if err := st.AddMemberRole(ctx, c.ID, member, held); err != nil {
			t.Fatal(err)
		}
		for _, o := range []*community.Override{
			{ID: identity.NewID(), ChannelID: chans[0].ID, RoleID: &held, Allow: community.PermSendMessages},
			{ID: identity.NewID(), ChannelID: chans[0].ID, AccountID: &member, Deny: community.PermViewChannel},
		} {
			if _, err := st.UpsertOverride(ctx, o, community.MaxOverrides); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestReadyMatchesServerRoutes: READY's servers, server_roles,
// channel_overrides and the channels its unread counts cover are, byte for
// byte, what the per-server routes answer: GET /servers and
// GET /servers/{id} for the servers, GET /servers/{id}/roles for the roles,
// GET /channels/{id}/overrides (asked by the server's owner) for every
// channel's overrides, hidden channels' included, and
// GET /servers/{id}/channels for the text channels the member may view,
// on every engine. Bob is in four servers: ann's, where overrides hide a
// channel from him by his account and another by a role he holds (one
// hidden from a role he lacks, and one his own override gives back, stay
// visible); one he owns, where an override denying him hides nothing; one
// where a role of his is an administrator, likewise; and one with no roles
// or overrides at all. Roles of equal position keep their order.
func TestReadyMatchesServerRoutes(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newNode(t, eng.Open(t), bus.NewLocal())
			ann, bob, cat := e.register("ann"), e.register("bob"), e.register("cat")
			owners := map[string]user{}
			server := func(owner user, name string) string {
				srv, _ := e.must(201, "POST", "/servers", owner.access, map[string]any{"name": name, "is_public": true})
				sid := srv["id"].(string)
				owners[sid] = owner
				joiner := bob
				if owner.id == bob.id {
					joiner = ann // writes the messages there
				}
				e.must(201, "POST", "/servers/"+sid+"/join", joiner.access, nil)
				return sid
			}
			channel := func(sid, name, kind string) string {
				ch, _ := e.must(201, "POST", "/servers/"+sid+"/channels", owners[sid].access, map[string]any{"name": name, "type": kind})
				return ch["id"].(string)
			}
			role := func(sid, name string, perms int64, position int, holder *user) string {
				r, _ := e.must(201, "POST", "/servers/"+sid+"/roles", owners[sid].access,
					map[string]any{"name": name, "permissions": perms, "position": position})
				rid := r["id"].(string)
				if holder != nil {
					e.must(204, "PUT", "/servers/"+sid+"/members/"+holder.id+"/roles/"+rid, owners[sid].access, nil)
				}
				return rid
			}
			override := func(cid, sid string, target map[string]any) {
				e.must(200, "PUT", "/channels/"+cid+"/overrides", owners[sid].access, target)
			}

			s1 := server(ann, "mixed")
			e.must(201, "POST", "/servers/"+s1+"/join", cat.access, nil)
			muted := role(s1, "muted", 0, 2, &bob)
			other := role(s1, "other", 0, 2, &cat) // equal position: creation order
			role(s1, "mods", community.PermManageMessages, 5, nil)
			byUser, byRole, notHis, givenBack := channel(s1, "by-user", "text"), channel(s1, "by-role", "text"),
				channel(s1, "not-his", "text"), channel(s1, "given-back", "text")
			channel(s1, "lounge", "voice")
			override(byUser, s1, map[string]any{"user_id": bob.id, "allow": 0, "deny": community.PermViewChannel})
			override(byUser, s1, map[string]any{"role_id": other, "allow": community.PermAddReactions, "deny": 0})
			override(byRole, s1, map[string]any{"role_id": muted, "allow": 0, "deny": community.PermViewChannel})
			override(notHis, s1, map[string]any{"role_id": other, "allow": 0, "deny": community.PermViewChannel})
			override(givenBack, s1, map[string]any{"role_id": muted, "allow": 0, "deny": community.PermViewChannel})
			override(givenBack, s1, map[string]any{"user_id": bob.id, "allow": community.PermViewChannel, "deny": 0})

			s2 := server(bob, "his")
			override(channel(s2, "own", "text"), s2, map[string]any{"user_id": bob.id, "allow": 0, "deny": community.PermViewChannel})

			s3 := server(cat, "admin")
			role(s3, "admins", community.PermAdministrator, 3, &bob)
			override(channel(s3, "staff", "text"), s3, map[string]any{"user_id": bob.id, "allow": 0, "deny": community.PermViewChannel})

			s4 := server(cat, "plain")
			channel(s4, "plain", "text")
			sids := []string{s1, s2, s3, s4}

			// A message by someone else in every channel: READY's unread
			// counts name exactly the text channels bob may view.
			for _, sid := range sids {
				_, chans := e.must(200, "GET", "/servers/"+sid+"/channels", owners[sid].access, nil)
				for _, c := range chans {
					ch := c.(map[string]any)
					if ch["type"] == "text" {
						author := owners[sid]
						if author.id == bob.id {
							author = ann
						}
						e.must(201, "POST", "/channels/"+ch["id"].(string)+"/messages", author.access, map[string]any{"content": "hi"})
					}
				}
			}

			w, _, err := e.dial("token=" + bob.access)
			if err != nil {
				t.Fatal(err)
			}
			var rd struct {
				Servers          json.RawMessage            `json:"servers"`
				ServerRoles      map[string]json.RawMessage `json:"server_roles"`
				ChannelOverrides map[string]json.RawMessage `json:"channel_overrides"`
				UnreadCounts     []struct {
					ChannelID   string `json:"channel_id"`
					UnreadCount int    `json:"unread_count"`
				} `json:"unread_counts"`
			}
			if err := json.Unmarshal(w.waitFor("READY").D, &rd); err != nil {
				t.Fatal(err)
			}

			body := func(path string, u user) []byte {
				t.Helper()
				code, raw := rawCall(t, e, "GET", path, u.access, nil)
				if code != 200 {
					t.Fatalf("GET %s: %d %s", path, code, raw)
				}
				return bytes.TrimSpace(raw)
			}
			same := func(what string, got json.RawMessage, want []byte) {
				t.Helper()
				if !bytes.Equal(got, want) {
					t.Errorf("READY's %s:\n%s\nthe route answers:\n%s", what, got, want)
				}
			}
			same("servers", rd.Servers, body("/servers", bob))
			var list []json.RawMessage
			if err := json.Unmarshal(rd.Servers, &list); err != nil || len(list) != len(sids) {
				t.Fatalf("READY: %d servers, want %d (%v)", len(list), len(sids), err)
			}
			if len(rd.ServerRoles) != len(sids) {
				t.Errorf("READY: roles of %d servers, want %d", len(rd.ServerRoles), len(sids))
			}
			wantOverrides := map[string]bool{}
			var wantUnread []string
			for i, sid := range sids {
				same("server "+sid, list[i], body("/servers/"+sid, bob))
				same("roles of "+sid, rd.ServerRoles[sid], body("/servers/"+sid+"/roles", bob))
				var all, visible []struct{ ID, Type string }
				if err := json.Unmarshal(body("/servers/"+sid+"/channels", owners[sid]), &all); err != nil {
					t.Fatal(err)
				}
				for _, c := range all {
					ovs := body("/channels/"+c.ID+"/overrides", owners[sid])
					if string(ovs) != "[]" {
						wantOverrides[c.ID] = true
						same("overrides of "+c.ID, rd.ChannelOverrides[c.ID], ovs)
					}
				}
				if err := json.Unmarshal(body("/servers/"+sid+"/channels", bob), &visible); err != nil {
					t.Fatal(err)
				}
				for _, c := range visible {
					if c.Type == "text" {
						wantUnread = append(wantUnread, c.ID)
					}
				}
			}
			if got := slices.Sorted(maps.Keys(rd.ChannelOverrides)); !slices.Equal(got, slices.Sorted(maps.Keys(wantOverrides))) {
				t.Errorf("READY has overrides of channels %v, want %v", got, slices.Sorted(maps.Keys(wantOverrides)))
			}
			var gotUnread []string
			for _, u := range rd.UnreadCounts {
				gotUnread = append(gotUnread, u.ChannelID)
			}
			slices.Sort(gotUnread)
			slices.Sort(wantUnread)
			if !slices.Equal(gotUnread, wantUnread) {
				t.Errorf("READY counts unread messages in %v, want the channels bob may view: %v", gotUnread, wantUnread)
			}
			for _, hidden := range []string{byUser, byRole} {
				if slices.Contains(gotUnread, hidden) {
					t.Errorf("READY counts the messages of channel %s, hidden from bob", hidden)
				}
			}
			for _, shown := range []string{notHis, givenBack} {
				if !slices.Contains(gotUnread, shown) {
					t.Errorf("READY leaves out channel %s, which bob may view", shown)
				}
			}
		})
	}
}
