package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/federation"
)

// TestHiddenStageChannelUnfollows: a stage channel actor whose community
// turned private unfollows an account it follows, and the account's
// server (a Mastodon-like peer that fetches the signer's key for every
// delivery, with a signed GET) can check the Undo: the hidden actor's
// document answers that server's signed fetch with a bare key document
// (no name, summary, page or links), and answers everyone else (another
// server's signed fetch, an unsigned fetch) exactly as an unknown stage
// actor does. Before, the unfollow was refused (400) while the channel was
// private. Following stays refused while it is hidden.
func TestHiddenStageChannelUnfollows(t *testing.T) {
	t.Parallel()
	a, _ := start(t, fedConfig(t), nil)
	base := federate(t, a)
	admin := adminLogin(t, base)
	srvID, chID := openStageChannel(t, base, admin.AccessToken, "Secret gigs")
	actor := base + "/federation/user/" + federation.StagePrefix + chID
	alice, mallory := newMastodon(t, "alice"), newMastodon(t, "mallory")
	var following struct{ ID string }
	code, body := owncastAdmin(t, base, "POST", "/api/admin/federation/servers", map[string]any{"url": alice.actor(), "stage": chID})
	if code != 200 || json.Unmarshal(body, &following) != nil {
		t.Fatalf("the stage channel follows alice: %d %s", code, body)
	}
	if f := alice.next("Follow"); f["actor"] != actor {
		t.Fatalf("Follow from %v, want %s", f["actor"], actor)
	}
	if code := call(t, "PATCH", base+"/servers/"+srvID, admin.AccessToken, map[string]any{"require_invite": true}, nil); code != 200 {
		t.Fatalf("require invites: %d", code)
	}
	unknown := base + "/federation/user/" + federation.StagePrefix + "0190aaaa-0000-7000-8000-000000000000"
	unsigned := func(u string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Accept", federation.ContentType)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSpace(string(b))
	}
	wantCode, wantBody := unsigned(unknown)
	if wantCode != 404 {
		t.Fatalf("an unknown stage actor = %d, want 404", wantCode)
	}
	hiddenAsUnknown := func(who string, code int, body string) {
		t.Helper()
		if code != wantCode || body != wantBody {
			t.Errorf("%s: the hidden actor = %d %s, want %d %s as an unknown one", who, code, body, wantCode, wantBody)
		}
	}
	// Hidden, before any unfollow: no one gets it, alice included.
	r := alice.Fetch(t, actor)
	hiddenAsUnknown("alice's signed fetch before the unfollow", r.Status, strings.TrimSpace(string(r.Body)))

	// It cannot follow anyone while hidden.
	if code, body := owncastAdmin(t, base, "POST", "/api/admin/federation/servers", map[string]any{"url": mallory.actor(), "stage": chID}); code < 400 {
		t.Errorf("a hidden stage channel's follow = %d %s, want refused", code, body)
	}

	// Its unfollow goes through, and alice's server checks the Undo.
	if code, body := owncastAdmin(t, base, "DELETE", "/api/admin/federation/servers/"+following.ID, nil); code != 200 {
		t.Fatalf("the hidden stage channel's unfollow = %d %s, want 200", code, body)
	}
	undo := alice.next("Undo")
	if obj, _ := undo["object"].(map[string]any); undo["actor"] != actor || obj["type"] != "Follow" || obj["object"] != alice.actor() {
		t.Fatalf("Undo = %v", undo)
	}
	var listed struct{ Servers []any }
	if _, body := owncastAdmin(t, base, "GET", "/api/admin/federation/servers", nil); json.Unmarshal(body, &listed) != nil || len(listed.Servers) != 0 {
		t.Errorf("followings after the unfollow: %s", body)
	}

	// What alice's server got: the key, nothing about the channel.
	r = alice.Fetch(t, actor)
	var doc map[string]any
	if r.Status != 200 || json.Unmarshal(r.Body, &doc) != nil {
		t.Fatalf("alice's signed fetch after the unfollow = %d %s", r.Status, r.Body)
	}
	key, _ := doc["publicKey"].(map[string]any)
	if doc["id"] != actor || doc["inbox"] != actor+"/inbox" || key["owner"] != actor || key["id"] != actor+"#main-key" || key["publicKeyPem"] == "" {
		t.Errorf("bare key document = %s", r.Body)
	}
	for _, f := range []string{"name", "summary", "url", "icon", "image", "attachment", "tag", "outbox", "followers"} {
		if _, ok := doc[f]; ok {
			t.Errorf("the hidden actor's key document carries %q: %s", f, r.Body)
		}
	}
	// Anyone else still gets an unknown account.
	r = mallory.Fetch(t, actor)
	hiddenAsUnknown("another server's signed fetch", r.Status, strings.TrimSpace(string(r.Body)))
	code, b := unsigned(actor)
	hiddenAsUnknown("an unsigned fetch", code, b)
	r = alice.Fetch(t, unknown)
	hiddenAsUnknown("alice's fetch of an unknown stage actor", r.Status, strings.TrimSpace(string(r.Body)))
}

// TestHiddenStageChannelApprovesNoFollow: in private mode, a follow
// request of a stage channel that then turns private cannot be approved
// while it is hidden (400, still pending: no one follows a hidden actor,
// and the requester's server could not check the Accept); rejecting it
// works, and so does approving once the channel is public again. Before,
// the approval went through while hidden and sent an Accept that could not
// be checked.
func TestHiddenStageChannelApprovesNoFollow(t *testing.T) {
	t.Parallel()
	a, _ := start(t, fedConfig(t), nil)
	base := federate(t, a)
	if code, b := owncastAdmin(t, base, "POST", "/api/admin/config/federation/private", map[string]any{"value": true}); code != 200 {
		t.Fatalf("private mode: %d %s", code, b)
	}
	admin := adminLogin(t, base)
	srvID, chID := openStageChannel(t, base, admin.AccessToken, "Gigs")
	actor := base + "/federation/user/" + federation.StagePrefix + chID
	alice, bob := newMastodon(t, "alice"), newMastodon(t, "bob")
	for _, p := range []*mastodon{alice, bob} {
		if code := p.follow(actor); code != 202 {
			t.Fatalf("follow: %d", code)
		}
	}
	total := func(state string) int {
		t.Helper()
		var page struct{ Total int }
		code, b := owncastAdmin(t, base, "GET", "/api/admin/federation/stages/"+chID+"/followers?state="+state, nil)
		if code != 200 || json.Unmarshal(b, &page) != nil {
			t.Fatalf("%s followers: %d %s", state, code, b)
		}
		return page.Total
	}
	approve := func(p *mastodon, ok bool) int {
		t.Helper()
		code, _ := owncastAdmin(t, base, "POST", "/api/admin/federation/stages/"+chID+"/followers/approve",
			map[string]any{"actorIRI": p.actor(), "approved": ok})
		return code
	}
	setInvite := func(on bool) {
		t.Helper()
		if code := call(t, "PATCH", base+"/servers/"+srvID, admin.AccessToken, map[string]any{"require_invite": on}, nil); code != 200 {
			t.Fatalf("require invites %v: %d", on, code)
		}
	}
	setInvite(true)
	if code := approve(alice, true); code != 400 {
		t.Errorf("approving while hidden = %d, want 400", code)
	}
	if code := approve(bob, false); code != 200 {
		t.Errorf("rejecting while hidden = %d, want 200", code)
	}
	if p, ok, b := total("pending"), total("approved"), total("blocked"); p != 1 || ok != 0 || b != 1 {
		t.Fatalf("pending %d approved %d blocked %d, want 1 0 1", p, ok, b)
	}
	setInvite(false)
	if code := approve(alice, true); code != 200 {
		t.Fatalf("approving once public = %d, want 200", code)
	}
	if acc := alice.next("Accept"); acc["actor"] != actor {
		t.Fatalf("Accept from %v", acc["actor"])
	}
}
