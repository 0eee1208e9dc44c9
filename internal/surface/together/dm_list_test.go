package together_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// lookups counts the reads a DM list used to make once per recipient: the
// recipient's account (identity's AccountByID) and profile (community's
// Profile).
type lookups struct{ n atomic.Int64 }

type countedAccounts struct {
	identity.Store
	c *lookups
}

func (s countedAccounts) AccountByID(ctx context.Context, id string) (*identity.Account, error) {
	s.c.n.Add(1)
	return s.Store.AccountByID(ctx, id)
}

type countedProfiles struct {
	community.Store
	c *lookups
}

func (s countedProfiles) Profile(ctx context.Context, accountID string) (*community.Profile, error) {
	s.c.n.Add(1)
	return s.Store.Profile(ctx, accountID)
}

// TestDMListReadsRecipientsAtOnce: GET /dm-channels and READY read an
// account's DM channels and their recipients together, so what they cost
// does not grow with the channels: the lookups of accounts and profiles
// for an account in 60 DM channels are as many as for one in 3 (there were
// two per recipient: 120 against 6, and 2,000 for 1,000 channels).
func TestDMListReadsRecipientsAtOnce(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			c := &lookups{}
			e := newNodeOver(t, db, bus.NewLocal(), countedAccounts{db.Identity(), c}, countedProfiles{db.Community(), c})
			few, many := e.register("few"), e.register("many")
			const nFew, nMany = 3, 60
			seedDMs(t, db, few.id, "f", nFew)
			seedDMs(t, db, many.id, "m", nMany)

			list := func(u user, n int) int64 {
				t.Helper()
				before := c.n.Load()
				if _, dms := e.must(200, "GET", "/dm-channels", u.access, nil); len(dms) != n {
					t.Fatalf("%s: %d DM channels, want %d", u.name, len(dms), n)
				}
				return c.n.Load() - before
			}
			if a, b := list(few, nFew), list(many, nMany); a != b {
				t.Errorf("GET /dm-channels: %d lookups of accounts and profiles for %d DM channels, %d for %d", a, nFew, b, nMany)
			}

			// READY: the socket's other work (presence) may read a few more,
			// so the bound is "fewer than one per recipient".
			before := c.n.Load()
			w, _, err := e.dial("token=" + many.access)
			if err != nil {
				t.Fatal(err)
			}
			var rd struct {
				DMChannels []json.RawMessage `json:"dm_channels"`
			}
			if err := json.Unmarshal(w.waitFor("READY").D, &rd); err != nil || len(rd.DMChannels) != nMany {
				t.Fatalf("READY: %d DM channels, want %d (%v)", len(rd.DMChannels), nMany, err)
			}
			if got := c.n.Load() - before; got >= nMany {
				t.Errorf("READY with %d DM channels: %d lookups of accounts and profiles", nMany, got)
			}
		})
	}
}

// TestDMListMatchesEachDM: every channel of GET /dm-channels and of READY's
// dm_channels is, byte for byte, what POST /dm-channels answers for that
// one channel (which reads its recipient alone), in the list's order (last
// activity first), whatever the recipient: with a full profile, an admin
// with an avatar, disabled, with no stored profile; a deleted account's
// channel is gone with it.
func TestDMListMatchesEachDM(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			e := newNode(t, db, bus.NewLocal())
			ctx := context.Background()
			ann := e.register("ann")
			ids := seedDMs(t, db, ann.id, "r", 8) // r0 oldest … r7 newest

			bio, pronouns, custom, activity := "likes tea", "they/them", "away for lunch", "Playing chess"
			if err := db.Community().SaveProfile(ctx, &community.Profile{AccountID: ids[1], Bio: &bio, Pronouns: &pronouns,
				Status: "dnd", CustomStatus: &custom, Activity: &activity}, community.ProfileBio|community.ProfilePronouns|community.ProfileStatus|community.ProfileCustomStatus|community.ProfileActivity); err != nil {
				t.Fatal(err)
			}
			r2, err := db.Identity().AccountByID(ctx, ids[2])
			if err != nil {
				t.Fatal(err)
			}
			r2.AvatarURL = "https://example.org/r2.png"
			disabled := time.Now().UTC()
			for _, err := range []error{db.Identity().UpdateProfile(ctx, r2, identity.ProfileAvatar), db.Identity().SetAdmin(ctx, ids[2], true, disabled),
				db.Identity().SetDisabled(ctx, ids[3], &disabled, disabled)} {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Identity().DeleteAccount(ctx, ids[4]); err != nil {
				t.Fatal(err)
			}
			// A message moves the oldest channel to the top.
			oldest, _ := e.must(200, "POST", "/dm-channels", ann.access, map[string]any{"user_id": ids[0]})
			e.must(201, "POST", "/dm-channels/"+oldest["id"].(string)+"/messages", ann.access, map[string]any{"content": "hi"})

			want := []string{ids[0], ids[7], ids[6], ids[5], ids[3], ids[2], ids[1]}
			code, body := rawCall(t, e, "GET", "/dm-channels", ann.access, nil)
			if code != 200 {
				t.Fatalf("GET /dm-channels: %d %s", code, body)
			}
			var list []json.RawMessage
			if err := json.Unmarshal(body, &list); err != nil || len(list) != len(want) {
				t.Fatalf("GET /dm-channels: %d channels, want %d (%v): %s", len(list), len(want), err, body)
			}
			for i, id := range want {
				code, one := rawCall(t, e, "POST", "/dm-channels", ann.access, map[string]any{"user_id": id})
				if code != 200 {
					t.Fatalf("POST /dm-channels %s: %d %s", id, code, one)
				}
				if !bytes.Equal(list[i], bytes.TrimSpace(one)) {
					t.Errorf("channel %d of the list:\n%s\nPOST /dm-channels answers:\n%s", i, list[i], one)
				}
			}
			if !strings.Contains(string(body), `"bio":"likes tea","pronouns":"they/them","status":"dnd","custom_status":"away for lunch","activity":"Playing chess"`) ||
				!strings.Contains(string(body), `"avatar_url":"https://example.org/r2.png"`) || !strings.Contains(string(body), `"is_admin":true`) ||
				strings.Contains(string(body), `"email":"`) {
				t.Errorf("recipients' fields: %s", body)
			}

			w, _, err := e.dial("token=" + ann.access)
			if err != nil {
				t.Fatal(err)
			}
			var rd struct {
				DMChannels json.RawMessage `json:"dm_channels"`
			}
			if err := json.Unmarshal(w.waitFor("READY").D, &rd); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rd.DMChannels, bytes.TrimSpace(body)) {
				t.Errorf("READY's dm_channels:\n%s\nGET /dm-channels:\n%s", rd.DMChannels, body)
			}
		})
	}
}

// rawCall sends a JSON request and answers the status and the raw body.
func rawCall(t testing.TB, e *env, method, path, auth string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}
