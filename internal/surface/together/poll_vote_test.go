package together_test

import (
	"encoding/json"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestPollVoteCarriesEachViewersVote: POLL_VOTE's updated_poll.user_vote
// is the recipient's own vote. Together's web client puts updated_poll in
// place of the poll it shows, so a null there cleared every member's "You
// voted" (the voter's too, when the event came after the vote's answer),
// and the voter's choice there would show as everyone's.
func TestPollVoteCarriesEachViewersVote(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob, cat := e.register("ann"), e.register("bob"), e.register("cat")
	_, cid := e.serverWithChannel(ann, "polls", bob, cat)
	pm, _ := e.must(201, "POST", "/channels/"+cid+"/polls", ann.access, map[string]any{"question": "Pizza?", "options": []string{"yes", "no"}})
	poll := pm["poll"].(map[string]any)
	pid := poll["id"].(string)
	yes := poll["options"].([]any)[0].(map[string]any)["id"].(string)
	no := poll["options"].([]any)[1].(map[string]any)["id"].(string)

	sockets := map[string]*ws{}
	for _, u := range []user{ann, bob, cat} {
		w, _, err := e.dial("token=" + u.access)
		if err != nil {
			t.Fatal(err)
		}
		w.waitFor("READY")
		sockets[u.name] = w
	}
	// Each vote's POLL_VOTE is read before the next vote: events reach
	// the sockets after the vote's answer, so one still on its way when
	// the next vote is made would be read in its place.
	check := func(total float64, want map[string]any) {
		t.Helper()
		for name, want := range want {
			f := sockets[name].waitFor("POLL_VOTE")
			var d struct {
				PollID      string         `json:"poll_id"`
				ChannelID   string         `json:"channel_id"`
				UpdatedPoll map[string]any `json:"updated_poll"`
			}
			if err := json.Unmarshal(f.D, &d); err != nil {
				t.Fatal(err)
			}
			if d.PollID != pid || d.ChannelID != cid || d.UpdatedPoll["total_votes"] != total || d.UpdatedPoll["user_vote"] != want {
				t.Errorf("%s's POLL_VOTE: %s (want total_votes %v, user_vote %v)", name, f.D, total, want)
			}
		}
	}
	e.must(200, "POST", "/polls/"+pid+"/vote", cat.access, map[string]any{"option_id": no})
	check(1, map[string]any{"ann": nil, "bob": nil, "cat": no})
	voted, _ := e.must(200, "POST", "/polls/"+pid+"/vote", bob.access, map[string]any{"option_id": yes})
	if voted["user_vote"] != yes || voted["total_votes"] != 2.0 {
		t.Errorf("vote answer %v", voted)
	}
	check(2, map[string]any{"ann": nil, "bob": yes, "cat": no})
}
