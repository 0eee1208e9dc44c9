package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// newCommunityService is the community service over db's store, with no
// bus or event sink.
func newCommunityService(t testing.TB, db *store.DB) *community.Service {
	t.Helper()
	svc, err := community.New(db.Community(), nil, db.Messages(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// newCommunity creates a private community "C" owned by ownerID.
func newCommunity(t testing.TB, db *store.DB, ownerID string) *community.Community {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := &community.Community{ID: identity.NewID(), Name: "C", OwnerID: ownerID, CreatedAt: now, UpdatedAt: now}
	if err := db.Community().CreateCommunity(context.Background(), c, nil, community.MaxServersJoined); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCommunityStoreContract runs the community rules and store on every engine.
func TestCommunityStoreContract(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			svc := newCommunityService(t, db)
			owner, ann, bob := newAccount(t, db, "owner"), newAccount(t, db, "ann"), newAccount(t, db, "bob")
			general := "general"
			c, err := svc.Create(ctx, owner, community.CreateInput{Name: "Hearth", IsPublic: true,
				Channels: []*community.Channel{{Name: general, Kind: community.KindText}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Access(ctx, ann, c.ID); !errors.Is(err, community.ErrServerNotFound) {
				t.Fatalf("non-member: %v", err)
			}
			if _, err := svc.Join(ctx, ann, c.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Join(ctx, ann, c.ID); !errors.Is(err, fault.Conflict) {
				t.Errorf("join twice: %v", err)
			}
			got, _ := svc.Store().Community(ctx, c.ID)
			if got.MemberCount != 2 {
				t.Errorf("member_count %d", got.MemberCount)
			}
			// Channels: owner only by default; MANAGE_CHANNELS honoured.
			name := "secret"
			if _, err := svc.CreateChannel(ctx, ann, c.ID, community.ChannelInput{Name: &name, Kind: "text"}); !errors.Is(err, fault.Forbidden) {
				t.Errorf("member creates channel: %v", err)
			}
			sec, err := svc.CreateChannel(ctx, owner, c.ID, community.ChannelInput{Name: &name, Kind: "text"})
			if err != nil || sec.Position != 1 {
				t.Fatalf("create channel: %+v %v", sec, err)
			}
			if _, err := svc.CreateChannel(ctx, owner, c.ID, community.ChannelInput{Name: &name, Kind: "bogus"}); !errors.Is(err, fault.Invalid) {
				t.Errorf("bad kind: %v", err)
			}
			// Roles and an override hiding the secret channel from members.
			rn, perms := "mods", community.PermManageChannels|community.PermKickMembers
			role, err := svc.CreateRole(ctx, owner, c.ID, community.RoleInput{Name: &rn, Permissions: &perms})
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.SetMemberRole(ctx, owner, c.ID, ann, role.ID, true); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.SetOverride(ctx, owner, sec.ID, &community.Override{AccountID: &bob, Deny: community.PermViewChannel}); !errors.Is(err, fault.NotFound) {
				t.Errorf("override for non-member: %v", err)
			}
			if _, err := svc.Join(ctx, bob, c.ID); err != nil {
				t.Fatal(err)
			}
			ov, err := svc.SetOverride(ctx, owner, sec.ID, &community.Override{AccountID: &bob, Deny: community.PermViewChannel})
			if err != nil {
				t.Fatal(err)
			}
			ov2, err := svc.SetOverride(ctx, owner, sec.ID, &community.Override{AccountID: &bob, Deny: community.PermViewChannel | community.PermSendMessages})
			if err != nil || ov2.ID != ov.ID || ov2.Deny != 3 {
				t.Errorf("upsert kept id: %+v %v", ov2, err)
			}
			_, viewers, err := svc.ChannelViewers(ctx, sec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if viewers[bob]&community.PermViewChannel != 0 || viewers[ann]&community.PermManageChannels == 0 || viewers[owner] != community.AllPerms {
				t.Errorf("viewers: %v", viewers)
			}
			chans, _ := svc.Channels(ctx, bob, c.ID)
			if len(chans) != 1 || chans[0].Name != general {
				t.Errorf("bob sees %d channels", len(chans))
			}
			nn := "renamed"
			if _, err := svc.UpdateChannel(ctx, ann, c.ID, sec.ID, community.ChannelInput{Name: &nn}); err != nil {
				t.Errorf("MANAGE_CHANNELS update: %v", err)
			}
			// Moderation: ann (kick) cannot kick the owner or herself; can kick bob.
			if err := svc.Kick(ctx, ann, c.ID, owner, nil); !errors.Is(err, fault.Forbidden) {
				t.Errorf("kick owner: %v", err)
			}
			if err := svc.Kick(ctx, ann, c.ID, ann, nil); !errors.Is(err, fault.Invalid) {
				t.Errorf("kick self: %v", err)
			}
			if err := svc.Kick(ctx, ann, c.ID, bob, nil); err != nil {
				t.Errorf("kick bob: %v", err)
			}
			if err := svc.Ban(ctx, ann, c.ID, bob, nil); !errors.Is(err, fault.Forbidden) {
				t.Errorf("ban without BAN_MEMBERS: %v", err)
			}
			reason := "spam"
			if err := svc.Ban(ctx, owner, c.ID, bob, &reason); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Join(ctx, bob, c.ID); !errors.Is(err, fault.Forbidden) {
				t.Errorf("banned joins: %v", err)
			}
			bans, _ := svc.Bans(ctx, owner, c.ID)
			if len(bans) != 1 || bans[0].Username != "bob" || *bans[0].Reason != reason {
				t.Errorf("bans %+v", bans)
			}
			// Invites: max uses, expiry.
			one := 1
			inv, err := svc.CreateInvite(ctx, owner, c.ID, &one, nil)
			if err != nil || len(inv.Code) != 8 {
				t.Fatalf("invite %+v %v", inv, err)
			}
			if _, err := svc.AcceptInvite(ctx, bob, inv.Code); !errors.Is(err, fault.Forbidden) {
				t.Errorf("banned accepts: %v", err)
			}
			if err := svc.Unban(ctx, owner, c.ID, bob); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.AcceptInvite(ctx, bob, inv.Code); err != nil {
				t.Errorf("accept: %v", err)
			}
			carl := newAccount(t, db, "carl")
			if _, err := svc.AcceptInvite(ctx, carl, inv.Code); !errors.Is(err, fault.Invalid) {
				t.Errorf("used-up invite: %v", err)
			}
			if _, err := svc.AcceptInvite(ctx, carl, "nope"); !errors.Is(err, fault.NotFound) {
				t.Errorf("unknown code: %v", err)
			}
			// Timeouts.
			if _, err := svc.Timeout(ctx, owner, c.ID, bob, time.Hour, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.CanSend(ctx, bob, chans[0].ID); !errors.Is(err, community.ErrTimedOut) {
				t.Errorf("bob should be timed out: %v", err)
			}
			if _, err := svc.Timeout(ctx, owner, c.ID, bob, 0, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.CanSend(ctx, bob, chans[0].ID); err != nil {
				t.Errorf("timeout lifted, but bob still cannot send: %v", err)
			}
			// DMs.
			d, created, err := svc.OpenDM(ctx, ann, bob)
			if err != nil || !created {
				t.Fatalf("dm %v %v", created, err)
			}
			d2, created, _ := svc.OpenDM(ctx, bob, ann)
			if created || d2.ID != d.ID {
				t.Error("dm not reused")
			}
			if _, err := svc.DM(ctx, carl, d.ID); !errors.Is(err, fault.NotFound) {
				t.Errorf("outsider reads dm: %v", err)
			}
			if _, _, err := svc.OpenDM(ctx, ann, ann); !errors.Is(err, fault.Invalid) {
				t.Errorf("self dm: %v", err)
			}
			// Profiles and leaving / deleting.
			if err := svc.SaveProfile(ctx, &community.Profile{AccountID: ann, Status: "dnd", Bio: &reason}, community.ProfileStatus|community.ProfileBio); err != nil {
				t.Fatal(err)
			}
			if p, _ := svc.Profile(ctx, ann); p.Status != "dnd" || *p.Bio != reason {
				t.Errorf("profile %+v", p)
			}
			if err := svc.Leave(ctx, owner, c.ID); !errors.Is(err, fault.Invalid) {
				t.Errorf("owner leaves: %v", err)
			}
			if err := svc.Delete(ctx, ann, c.ID, false); !errors.Is(err, fault.Forbidden) {
				t.Errorf("member deletes: %v", err)
			}
			if err := svc.Delete(ctx, owner, c.ID, false); err != nil {
				t.Fatal(err)
			}
			if list, _ := svc.Store().CommunitiesOf(ctx, ann); len(list) != 0 {
				t.Errorf("after delete: %d", len(list))
			}
		})
	}
}

// TestMemberCountFollowsMembership: a community's member_count is kept by
// the database, not counted on read, so it must follow every way a member
// comes and goes (join, leave, an account deleted with its memberships),
// and the migration that introduced it must count the members an older
// Hearth left, on both engines.
func TestMemberCountFollowsMembership(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			svc := newCommunityService(t, db)
			owner, ann, bob := newAccount(t, db, "owner"), newAccount(t, db, "ann"), newAccount(t, db, "bob")
			c, err := svc.Create(ctx, owner, community.CreateInput{Name: "Count", IsPublic: true})
			if err != nil {
				t.Fatal(err)
			}
			other, err := svc.Create(ctx, ann, community.CreateInput{Name: "Other", IsPublic: true})
			if err != nil {
				t.Fatal(err)
			}
			count := func(step string, id string, want int) {
				t.Helper()
				got, err := db.Community().Community(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got.MemberCount != want {
					t.Errorf("%s: member_count %d, want %d", step, got.MemberCount, want)
				}
				cs, err := db.Community().CommunitiesOf(ctx, owner)
				if err != nil || (id == c.ID && (len(cs) != 1 || cs[0].MemberCount != want)) {
					t.Errorf("%s: server list %v %v", step, cs, err)
				}
			}
			count("created", c.ID, 1)
			for _, a := range []string{ann, bob} {
				if _, err := svc.Join(ctx, a, c.ID); err != nil {
					t.Fatal(err)
				}
			}
			count("two joined", c.ID, 3)
			count("the other community", other.ID, 1)
			if _, err := svc.Join(ctx, ann, c.ID); err == nil {
				t.Fatal("second join accepted")
			}
			count("a refused second join", c.ID, 3)
			if err := db.Community().RemoveMember(ctx, c.ID, ann); err != nil {
				t.Fatal(err)
			}
			count("left", c.ID, 2)
			if err := db.Identity().DeleteAccount(ctx, bob); err != nil {
				t.Fatal(err)
			}
			count("member's account deleted", c.ID, 1)

			// An older database: no column, no triggers, members joined.
			dave := newAccount(t, db, "dave")
			if err := db.Community().AddMember(ctx, c.ID, dave, time.Now(), community.MaxServersJoined, ""); err != nil {
				t.Fatal(err)
			}
			down := []string{`DROP TRIGGER community_members_count_ad`, `DROP TRIGGER community_members_count_ai`,
				`ALTER TABLE communities DROP COLUMN member_count`}
			if eng.Name == "postgres" {
				down = []string{`DROP TRIGGER community_members_count ON community_members`, `DROP FUNCTION community_members_count()`,
					`ALTER TABLE communities DROP COLUMN member_count`}
			}
			for _, q := range append(down, `DELETE FROM goose_db_version WHERE version_id = 1700`) {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatal(q, err)
				}
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			count("migrated", c.ID, 2)
			erin := newAccount(t, db, "erin")
			if err := db.Community().AddMember(ctx, c.ID, erin, time.Now(), community.MaxServersJoined, ""); err != nil {
				t.Fatal(err)
			}
			count("joined after the migration", c.ID, 3)
		})
	}
}

// TestCountBoundsHoldConcurrently: channels, roles, memberships and
// filtered words (some of them the same word twice) created all at once
// stop at the bound the store is given, on both
// engines (PostgreSQL's concurrent inserts would each count before the
// others' without the parent row held).
func TestCountBoundsHoldConcurrently(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			svc := newCommunityService(t, db)
			owner, ann := newAccount(t, db, "owner"), newAccount(t, db, "ann")
			c, err := svc.Create(ctx, owner, community.CreateInput{Name: "Bounds", IsPublic: true})
			if err != nil {
				t.Fatal(err)
			}
			others := make([]*community.Community, 12)
			for i := range others {
				if others[i], err = svc.Create(ctx, owner, community.CreateInput{Name: fmt.Sprint("o", i), IsPublic: true}); err != nil {
					t.Fatal(err)
				}
			}
			const max, n = 4, 12
			st := db.Community()
			now := time.Now().UTC().Truncate(time.Microsecond)
			atOnce(t, "channels", n, func(i int) error {
				return st.CreateChannel(ctx, &community.Channel{ID: identity.NewID(), CommunityID: c.ID, Name: fmt.Sprint("c", i),
					Kind: community.KindText, Position: i, CreatedAt: now}, max)
			}, community.ErrTooManyChannels)
			atOnce(t, "roles", n, func(i int) error {
				return st.CreateRole(ctx, &community.Role{ID: identity.NewID(), CommunityID: c.ID, Name: fmt.Sprint("r", i), CreatedAt: now}, max)
			}, community.ErrTooManyRoles)
			atOnce(t, "joins", n, func(i int) error { return st.AddMember(ctx, others[i].ID, ann, now, max, "") }, community.ErrTooManyServers)
			peers := make([]string, n)
			for i := range peers {
				peers[i] = newAccount(t, db, fmt.Sprint("peer", i))
			}
			atOnce(t, "dms", n, func(i int) error {
				a, b := ann, peers[i]
				if b < a {
					a, b = b, a
				}
				return st.CreateDMChannel(ctx, &community.DMChannel{ID: identity.NewID(), Members: [2]string{a, b}, CreatedAt: now}, ann, max)
			}, community.ErrTooManyDMs)
			if dms, err := st.DMChannelsOf(ctx, ann, 0); err != nil || len(dms) != max {
				t.Errorf("DM channels after %d at once: %d %v, want %d", n, len(dms), err, max)
			}
			chans, err := st.Channels(ctx, c.ID)
			if err != nil || len(chans) == 0 {
				t.Fatalf("channels: %v %v", chans, err)
			}
			atOnce(t, "overrides", n, func(i int) error {
				_, err := st.UpsertOverride(ctx, &community.Override{ID: identity.NewID(), ChannelID: chans[0].ID, AccountID: &peers[i]}, max)
				return err
			}, community.ErrTooManyOverrides)
			if ovs, err := st.Overrides(ctx, chans[0].ID); err != nil || len(ovs) != max {
				t.Errorf("overrides after %d at once: %d %v, want %d", n, len(ovs), err, max)
			}
			x := db.TogetherExtras()
			atOnce(t, "words", n, func(i int) error {
				_, err := x.AddWord(ctx, &community.WordFilter{ID: identity.NewID(), CommunityID: c.ID, Word: fmt.Sprint("w", i%(max+2)), CreatedAt: now}, max)
				return err
			}, community.ErrTooManyWords)
			atOnce(t, "invites", n, func(i int) error {
				return st.CreateInvite(ctx, &community.Invite{ID: identity.NewID(), CommunityID: c.ID, Code: fmt.Sprint("code", i), CreatedBy: owner, CreatedAt: now}, max, max)
			}, community.ErrTooManyInvites)
			if invs, err := st.Invites(ctx, c.ID); err != nil || len(invs) != max {
				t.Errorf("invites after %d at once: %d %v, want %d", n, len(invs), err, max)
			}
			atOnce(t, "webhooks", n, func(i int) error {
				return x.CreateWebhook(ctx, &webhooks.Hook{ID: identity.NewID(), CommunityID: c.ID, CreatedBy: owner, Name: fmt.Sprint("h", i),
					URL: "https://example.com/h", Secret: "s", EventTypes: []string{}, Enabled: true, CreatedAt: now, UpdatedAt: now}, max)
			}, webhooks.ErrTooManyHooks)
			if hooks, err := x.Webhooks(ctx, c.ID); err != nil || len(hooks) != max {
				t.Errorf("webhooks after %d at once: %d %v, want %d", n, len(hooks), err, max)
			}
			if words, err := x.Words(ctx, c.ID); err != nil || len(words) != max {
				t.Errorf("words after %d at once: %d %v, want %d", n, len(words), err, max)
			}
			if chans, err := st.Channels(ctx, c.ID); err != nil || len(chans) != max {
				t.Errorf("channels after %d at once: %d %v, want %d", n, len(chans), err, max)
			}
			if roles, err := st.Roles(ctx, c.ID); err != nil || len(roles) != max {
				t.Errorf("roles after %d at once: %d %v, want %d", n, len(roles), err, max)
			}
			if joined, err := st.CommunitiesOf(ctx, ann); err != nil || len(joined) != max {
				t.Errorf("servers joined after %d at once: %d %v, want %d", n, len(joined), err, max)
			}
			// A bot has no bound.
			bot := &identity.Account{ID: identity.NewID(), Kind: identity.Bot, Username: "bot", CreatedAt: now, UpdatedAt: now}
			if err := db.Identity().CreateAccount(ctx, bot); err != nil {
				t.Fatal(err)
			}
			for _, o := range others {
				if err := st.AddMember(ctx, o.ID, bot.ID, now, max, ""); err != nil {
					t.Fatalf("a bot joining past the bound: %v", err)
				}
			}
		})
	}
}

// TestDeadInvitesBounded: creating an invite removes the community's
// invites that no longer work (expired or used up) beyond the newest
// keepDead, on both engines, and leaves working ones and other
// communities' alone. Without it an owner could let MaxInvites invites
// expire each hour and make as many again, for good.
func TestDeadInvitesBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			owner := newAccount(t, db, "owner")
			c, other := newCommunity(t, db, owner), newCommunity(t, db, owner)
			const max, keepDead = 4, 2
			st := db.Community()
			now := time.Now().UTC().Truncate(time.Microsecond)
			n := 0
			create := func(in string, at time.Time, expires *time.Time, maxUses *int) *community.Invite {
				t.Helper()
				n++
				inv := &community.Invite{ID: identity.NewID(), CommunityID: in, Code: fmt.Sprint("dead", n), CreatedBy: owner,
					MaxUses: maxUses, ExpiresAt: expires, CreatedAt: at}
				if err := st.CreateInvite(ctx, inv, max, keepDead); err != nil {
					t.Fatalf("invite %d: %v", n, err)
				}
				return inv
			}
			codes := func(id string) []string {
				t.Helper()
				invs, err := st.Invites(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, inv := range invs {
					out = append(out, inv.Code)
				}
				return out
			}
			hour := now.Add(time.Hour)
			keep := create(c.ID, now, nil, nil) // works throughout
			dead := []*community.Invite{create(c.ID, now, &hour, nil), create(c.ID, now.Add(time.Microsecond), &hour, nil)}
			one := 1
			used := create(c.ID, now.Add(time.Millisecond), nil, &one)
			if ok, err := st.SpendInvite(ctx, used.ID, now.Add(time.Millisecond)); err != nil || !ok {
				t.Fatalf("spend: %v %v", ok, err)
			}
			elsewhere := create(other.ID, now, &hour, nil)
			// Two hours on, the two expired and the used-up one are dead:
			// the next create keeps the newest two of them (the used-up
			// one and the later expired one).
			later := now.Add(2 * time.Hour)
			fresh := create(c.ID, later, nil, nil)
			got := codes(c.ID)
			want := []string{fresh.Code, used.Code, dead[1].Code, keep.Code}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("invites kept: %v, want %v", got, want)
			}
			if got := codes(other.ID); len(got) != 1 || got[0] != elsewhere.Code {
				t.Errorf("another community's invites: %v", got)
			}
		})
	}
}

// TestAuditLogBounded: recording an audit entry removes the community's
// entries older than its newest keep, on both engines, and leaves other
// communities' alone. Without it an owner's unpaced renames wrote entries
// for good.
func TestAuditLogBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			owner := newAccount(t, db, "owner")
			c, other := newCommunity(t, db, owner), newCommunity(t, db, owner)
			x := db.TogetherExtras()
			const keep = 3
			now := time.Now().UTC().Truncate(time.Microsecond)
			add := func(in string, i int) {
				t.Helper()
				l := &community.AuditLog{ID: identity.NewID(), CommunityID: in, Action: fmt.Sprint("a", i), Details: []byte(`{}`),
					CreatedAt: now.Add(time.Duration(i) * time.Millisecond)}
				if err := x.AddAudit(ctx, l, keep); err != nil {
					t.Fatal(err)
				}
			}
			add(other.ID, 0)
			for i := range 7 {
				add(c.ID, i)
			}
			actions := func(id string) string {
				t.Helper()
				ls, err := x.AuditLogs(ctx, id, community.AuditQuery{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, l := range ls {
					out = append(out, l.Action)
				}
				return fmt.Sprint(out)
			}
			if got, want := actions(c.ID), "[a6 a5 a4]"; got != want {
				t.Errorf("entries kept: %s, want %s", got, want)
			}
			if got, want := actions(other.ID), "[a0]"; got != want {
				t.Errorf("another community's entries: %s, want %s", got, want)
			}
		})
	}
}
