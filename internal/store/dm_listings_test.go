package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestDMListingsOf: DMListingsOf gives DMChannelsOf's channels in its
// order, each with the recipient that a lookup of the other participant's
// account and profile gives (the default offline profile when none is
// stored), on every engine, for 40 channels with the account on either side
// of them and recipients disabled, admin, with a full profile or none; a
// deleted recipient's channel is gone, others' channels never show, and the
// limit holds.
func TestDMListingsOf(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			st, ids := db.Community(), db.Identity()
			svc := newCommunityService(t, db)
			const n = 40
			// Ids are time-ordered: accounts made before ann sort before
			// her, so she is member_b of their channels and member_a of the
			// others'.
			var peers []string
			for i := range n / 2 {
				peers = append(peers, newAccount(t, db, fmt.Sprint("early", i)))
			}
			ann := newAccount(t, db, "ann")
			for i := range n / 2 {
				peers = append(peers, newAccount(t, db, fmt.Sprint("late", i)))
			}
			start := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
			open := func(x, y string, at time.Time) string {
				if y < x {
					x, y = y, x
				}
				d := &community.DMChannel{ID: identity.NewID(), Members: [2]string{x, y}, CreatedAt: at}
				if err := st.CreateDMChannel(ctx, d, x, community.MaxDMChannels); err != nil {
					t.Fatal(err)
				}
				return d.ID
			}
			var dmIDs []string
			for i, p := range peers {
				dmIDs = append(dmIDs, open(ann, p, start.Add(time.Duration(i)*time.Second)))
			}
			open(peers[0], peers[1], start) // not ann's
			// Activity reorders; equal times fall back to the id.
			for _, i := range []int{3, 30, 12} {
				if err := st.TouchDMChannel(ctx, dmIDs[i], start.Add(time.Duration(n+i)*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.TouchDMChannel(ctx, dmIDs[7], start.Add(time.Duration(n+30)*time.Second)); err != nil {
				t.Fatal(err)
			}

			bio, pronouns, custom, activity := "bio", "she/her", "busy", "Listening to jazz"
			if err := st.SaveProfile(ctx, &community.Profile{AccountID: peers[5], Bio: &bio, Pronouns: &pronouns, Status: "away",
				CustomStatus: &custom, Activity: &activity}, community.ProfileBio|community.ProfilePronouns|community.ProfileStatus|community.ProfileCustomStatus|community.ProfileActivity); err != nil {
				t.Fatal(err)
			}
			if err := st.SaveProfile(ctx, &community.Profile{AccountID: peers[25], Status: "online"}, community.ProfileStatus); err != nil {
				t.Fatal(err)
			}
			{
				now := time.Now().UTC()
				a, err := ids.AccountByID(ctx, peers[6])
				if err != nil {
					t.Fatal(err)
				}
				a.AvatarURL = "https://example.org/a.png"
				if err := ids.UpdateProfile(ctx, a, identity.ProfileAvatar); err != nil {
					t.Fatal(err)
				}
				if err := ids.SetAdmin(ctx, peers[6], true, now); err != nil {
					t.Fatal(err)
				}
				if err := ids.SetDisabled(ctx, peers[26], &now, now); err != nil {
					t.Fatal(err)
				}
			}
			if err := ids.DeleteAccount(ctx, peers[8]); err != nil {
				t.Fatal(err)
			}

			// What a lookup per channel gives.
			want := func(of string, limit int) []*community.DMListing {
				t.Helper()
				ds, err := st.DMChannelsOf(ctx, of, limit)
				if err != nil {
					t.Fatal(err)
				}
				out := []*community.DMListing{}
				for _, d := range ds {
					a, err := ids.AccountByID(ctx, d.Other(of))
					if err != nil {
						t.Fatal(err)
					}
					p, err := svc.Profile(ctx, a.ID)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, &community.DMListing{DMChannel: *d, Recipient: community.DMRecipient{AccountID: a.ID,
						Username: a.Username, AvatarURL: a.AvatarURL, IsAdmin: a.IsAdmin, CreatedAt: a.CreatedAt, Profile: *p}})
				}
				return out
			}
			for _, c := range []struct {
				name  string
				of    string
				limit int
				n     int
			}{
				{"ann's, all", ann, 0, n - 1},
				{"ann's, limit 5", ann, 5, 5},
				{"a peer's", peers[5], 0, 1},
				{"an account with none", peers[8], 0, 0},
			} {
				got, err := st.DMListingsOf(ctx, c.of, c.limit)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				w := want(c.of, c.limit)
				if len(got) != c.n || !reflect.DeepEqual(got, w) {
					t.Errorf("%s: %d listings (want %d), not what a lookup per channel gives", c.name, len(got), c.n)
					for i := range max(len(got), len(w)) {
						var g, x any
						if i < len(got) {
							g = *got[i]
						}
						if i < len(w) {
							x = *w[i]
						}
						if !reflect.DeepEqual(g, x) {
							t.Errorf("  %d: got  %+v\n     want %+v", i, g, x)
						}
					}
				}
			}
			got, err := st.DMListingsOf(ctx, ann, 0)
			if err != nil || len(got) < 5 {
				t.Fatal(got, err)
			}
			// 7 and 30 touched at the same time: the larger id first.
			top := []string{got[0].ID, got[1].ID, got[2].ID, got[3].ID, got[4].ID}
			first, second := dmIDs[7], dmIDs[30]
			if second > first {
				first, second = second, first
			}
			if w := []string{first, second, dmIDs[12], dmIDs[3], dmIDs[n-1]}; !reflect.DeepEqual(top, w) {
				t.Errorf("order: %v, want %v", top, w)
			}
			for _, l := range got {
				if l.Recipient.AccountID == peers[8] || l.Recipient.AccountID == ann {
					t.Errorf("listing %s has recipient %s", l.ID, l.Recipient.AccountID)
				}
			}
		})
	}
}
