package community_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestTimeoutSilencesEveryAct: a timeout refused only a new message (as
// Together's check on message create); a timed-out member still edited,
// reacted, attached files, voted, joined calls, went live and made
// invites. Each of those rules now refuses them with ErrTimedOut (after
// its own permission), and only them: the other members, the moderator
// who set it and the owner (a timeout stored for the owner applies to
// nothing) act as before; removing one's own reaction stays allowed; and
// everything works again once the timeout runs out (the service's clock)
// or is lifted. On both engines: an invite reads the timeout with the
// community's standing (MemberStanding), not the channel's.
func TestTimeoutSilencesEveryAct(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ch := newChat(t, e) // "muted" is timed out for an hour from now
			ctx := context.Background()
			at := now
			ch.comm.SetClock(func() time.Time { return at })
			ch.msgs.SetClock(func() time.Time { return at })
			owner := ch.acct["owner"]
			// A timeout stored for the owner (none of the routes sets one).
			until := now.Add(time.Hour)
			if err := ch.comm.Store().SetTimeout(ctx, ch.c.ID, owner, &until); err != nil {
				t.Fatal(err)
			}
			name, perms := "inviters", community.PermCreateInvites
			role, err := ch.comm.CreateRole(ctx, owner, ch.c.ID, community.RoleInput{Name: &name, Permissions: &perms})
			if err != nil {
				t.Fatal(err)
			}
			for _, who := range []string{"alice", "muted"} {
				if err := ch.comm.SetMemberRole(ctx, owner, ch.c.ID, ch.acct[who], role.ID, true); err != nil {
					t.Fatal(err)
				}
			}
			p, err := ch.comm.NewPoll(ctx, ch.acct["alice"], ch.channel, "q", []string{"a", "b"})
			if err != nil {
				t.Fatal(err)
			}
			// acts lists every rule a timeout refuses, as the account asks it.
			acts := func(who string) map[string]error {
				id := ch.acct[who]
				out := map[string]error{}
				_, out["send"] = ch.comm.CanSend(ctx, id, ch.channel)
				_, out["poll"] = ch.comm.NewPoll(ctx, id, ch.channel, "q", []string{"a", "b"})
				_, out["event"] = ch.comm.NewEvent(ctx, id, ch.c.ID, ch.channel, "e", nil, at.Add(time.Hour))
				_, out["invite"] = ch.comm.CreateInvite(ctx, id, ch.c.ID, nil, nil)
				ca, err := ch.comm.ChannelAccess(ctx, id, ch.channel)
				if err != nil {
					t.Fatal(err)
				}
				out["edit"] = ca.MayEdit(&id)
				out["react"] = ca.MayReact(true)
				out["attach"] = ca.MayAttach(&id)
				out["vote"] = p.CheckVote(ca, p.Options[0].ID)
				out["voice"] = ca.MayConnectVoice()
				out["go live"] = ca.MayGoLive()
				if err := ca.MayReact(false); err != nil {
					t.Errorf("%s may not remove their own reaction: %v", who, err)
				}
				if err := ca.MayView(); err != nil {
					t.Errorf("%s may not read the channel: %v", who, err)
				}
				return out
			}
			check := func(when, who string, timedOut bool) {
				t.Helper()
				for act, err := range acts(who) {
					switch {
					case timedOut && !errors.Is(err, community.ErrTimedOut):
						t.Errorf("%s: %s's %s: err = %v, want %v", when, who, act, err, community.ErrTimedOut)
					case !timedOut && err != nil:
						t.Errorf("%s: %s's %s: %v", when, who, act, err)
					}
				}
			}
			check("timed out", "muted", true)
			check("timed out", "alice", false)
			check("timed out", "owner", false)

			at = now.Add(time.Hour) // the last instant of the timeout is its end
			check("run out", "muted", false)

			at = now.Add(2 * time.Hour)
			if _, err := ch.comm.Timeout(ctx, owner, ch.c.ID, ch.acct["muted"], time.Minute, nil); err != nil {
				t.Fatal(err)
			}
			check("timed out again", "muted", true)
			if _, err := ch.comm.Timeout(ctx, owner, ch.c.ID, ch.acct["muted"], 0, nil); err != nil {
				t.Fatal(err)
			}
			check("lifted", "muted", false)
		})
	}
}
