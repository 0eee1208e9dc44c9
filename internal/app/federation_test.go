package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/live"
)

type fediMessage struct {
	ID        string  `json:"id"`
	ChannelID string  `json:"channel_id"`
	AuthorID  *string `json:"author_id"`
	Content   string  `json:"content"`
	Fediverse *struct {
		Type, Image, Link, Title string
	} `json:"fediverse"`
}

// TestFederationStageChannelEngagementInItsChat: a stage channel is its
// own actor; a Mastodon-like peer follows it, and likes and boosts its
// go-live post. Each shows in that channel's chat on every surface that
// shows it: Together's message list and gateway (MESSAGE_CREATE with the
// fediverse field the web app renders), and not in the default stage's
// Owncast chat. A stage channel bound to the default stage gets its
// engagement in that shared chat: Owncast's FEDIVERSE_ENGAGEMENT_FOLLOW
// event and the channel's Together messages.
func TestFederationStageChannelEngagementInItsChat(t *testing.T) {
	t.Parallel()
	a, _ := start(t, fedConfig(t), nil)
	base := federate(t, a)
	admin := adminLogin(t, base)
	sid := newServer(t, base, admin.AccessToken)
	var own, bound struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", admin.AccessToken, map[string]any{"name": "Concerts", "type": "stage"}, &own); code != 201 {
		t.Fatalf("stage channel: %d", code)
	}
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", admin.AccessToken, map[string]any{"name": "Main", "type": "stage", "stage_id": "default"}, &bound); code != 201 {
		t.Fatalf("bound stage channel: %d", code)
	}
	gw := dialSocket(t, "ws"+strings.TrimPrefix(base, "http")+"/ws?token="+admin.AccessToken)
	gw.await("READY", func(f map[string]any) bool { return f["t"] == "READY" })

	peer := newMastodon(t, "alice")
	stageActor := base + "/federation/user/" + federation.StagePrefix + own.ID
	if code := peer.follow(stageActor); code != 202 {
		t.Fatalf("follow the stage channel: %d", code)
	}
	if acc := peer.next("Accept"); acc["actor"] != stageActor {
		t.Fatalf("Accept from %v", acc["actor"])
	}
	if err := a.Federation.GoLive(context.Background(), federation.StagePrefix+own.ID, "Tonight's concert"); err != nil {
		t.Fatal(err)
	}
	create := peer.next("Create")
	note, _ := create["object"].(map[string]any)
	if create["actor"] != stageActor || note == nil || !strings.Contains(note["content"].(string), "Tonight&#39;s concert") {
		t.Fatalf("go-live post: %v", create)
	}
	// It links to the channel's page, not the server's (where the default
	// stage, another stream, plays).
	if page := base + "/c/" + sid + "/" + own.ID; !strings.Contains(note["content"].(string), `href="`+page+`"`) {
		t.Fatalf("go-live post links elsewhere than %s: %v", page, note["content"])
	}
	for _, typ := range []string{"Like", "Announce"} {
		if code := peer.post(stageActor+"/inbox", map[string]any{"id": peer.actor() + "#" + typ, "type": typ,
			"actor": peer.actor(), "object": note["id"]}); code != 202 {
			t.Fatalf("%s: %d", typ, code)
		}
	}
	want := []string{federation.EngagementFollow, federation.EngagementLike, federation.EngagementRepost}
	for _, typ := range want {
		f := gw.await("MESSAGE_CREATE "+typ, func(f map[string]any) bool {
			d, _ := f["d"].(map[string]any)
			fe, _ := d["fediverse"].(map[string]any)
			return f["t"] == "MESSAGE_CREATE" && fe["type"] == typ
		})
		d := f["d"].(map[string]any)
		fe := d["fediverse"].(map[string]any)
		if d["channel_id"] != own.ID || d["author_id"] != nil || fe["link"] != peer.actor() ||
			!strings.HasPrefix(fe["title"].(string), "alice@") || !strings.HasPrefix(d["content"].(string), "Alice ") {
			t.Fatalf("gateway %s: %v", typ, d)
		}
	}
	var history []fediMessage
	if code := call(t, "GET", base+"/channels/"+own.ID+"/messages", admin.AccessToken, nil, &history); code != 200 {
		t.Fatalf("history: %d", code)
	}
	seen := map[string]bool{}
	for _, m := range history {
		if m.Fediverse != nil && m.AuthorID == nil && m.Fediverse.Link == peer.actor() {
			seen[m.Fediverse.Type] = true
		}
	}
	if len(seen) != 3 {
		t.Fatalf("channel history engagement = %v (%+v)", seen, history)
	}
	// Not in the default stage's Owncast chat.
	var reg struct{ AccessToken string }
	if code := call(t, "POST", base+"/api/chat/register", "", map[string]string{"displayName": "viewer"}, &reg); code != 200 {
		t.Fatalf("chat register: %d", code)
	}
	var chat []map[string]any
	call(t, "GET", base+"/api/chat?accessToken="+url.QueryEscape(reg.AccessToken), "", nil, &chat)
	for _, m := range chat {
		if typ, _ := m["type"].(string); strings.HasPrefix(typ, "FEDIVERSE_") {
			t.Fatalf("a stage channel's engagement reached the default stage's chat: %v", m)
		}
	}

	// The channel bound to the default stage: its engagement is in the
	// shared chat, as Owncast's event and as the channel's message.
	ws := dialSocket(t, "ws"+strings.TrimPrefix(base, "http")+"/ws?accessToken="+reg.AccessToken)
	boundActor := base + "/federation/user/" + federation.StagePrefix + bound.ID
	if code := peer.follow(boundActor); code != 202 {
		t.Fatalf("follow the bound stage channel: %d", code)
	}
	ev := ws.await("FEDIVERSE_ENGAGEMENT_FOLLOW", func(f map[string]any) bool { return f["type"] == federation.EngagementFollow })
	if ev["link"] != peer.actor() || !strings.Contains(ev["body"].(string), "just followed") {
		t.Fatalf("owncast event: %v", ev)
	}
	history = nil
	call(t, "GET", base+"/channels/"+bound.ID+"/messages", admin.AccessToken, nil, &history)
	found := false
	for _, m := range history {
		found = found || (m.Fediverse != nil && m.Fediverse.Type == federation.EngagementFollow && m.ChannelID == bound.ID)
	}
	if !found {
		t.Fatalf("bound channel history: %+v", history)
	}
}

type featured struct {
	Servers []struct {
		ID, IRI, Name, Username, StreamTitle, URL, Actor string
		IsOnline, Accepted                               bool
	}
}

// TestTwoHearthsFederate: two Hearth instances on loopback federate with
// real HTTP signatures. A's admin makes A follow B by B's address (found
// through B's /api/config and WebFinger); B verifies A's signed Follow
// and accepts; A lists B as a featured stream once the Accept arrives.
// B going live delivers its go-live post to A, which shows B online with
// the post's text. A stage channel of A follows B too, by account. A's
// unfollow reaches B as an Undo.
func TestTwoHearthsFederate(t *testing.T) {
	t.Parallel()
	a, _ := start(t, fedConfig(t), nil)
	b, _ := start(t, fedConfig(t), nil)
	baseA, baseB := federate(t, a), federate(t, b)

	code, body := owncastAdmin(t, baseA, "POST", "/api/admin/federation/servers", map[string]any{"url": baseB})
	if code != 200 {
		t.Fatalf("follow B: %d %s", code, body)
	}
	list := func(base string, admin bool) featured {
		var f featured
		path := "/api/federation/servers"
		if admin {
			path = "/api/admin/federation/servers"
		}
		_, body := owncastAdmin(t, base, "GET", path, nil)
		if err := json.Unmarshal(body, &f); err != nil {
			t.Fatalf("%s: %v %s", path, err, body)
		}
		return f
	}
	poll(t, "B's Accept", 10*time.Second, func() bool { f := list(baseA, false); return len(f.Servers) == 1 })
	f := list(baseA, true).Servers[0]
	actorB := baseB + "/federation/user/streamer"
	if f.IRI != actorB || !f.Accepted || f.IsOnline || !strings.HasPrefix(f.Username, "streamer@") {
		t.Fatalf("featured on A = %+v", f)
	}
	var followers struct {
		Total   int
		Results []struct{ Link string }
	}
	_, body = owncastAdmin(t, baseB, "GET", "/api/followers", nil)
	_ = json.Unmarshal(body, &followers)
	if followers.Total != 1 || followers.Results[0].Link != baseA+"/federation/user/streamer" {
		t.Fatalf("B's followers = %s", body)
	}

	if err := b.Federation.GoLive(context.Background(), "", "B's evening show"); err != nil {
		t.Fatal(err)
	}
	poll(t, "B's go-live post on A", 10*time.Second, func() bool { f := list(baseA, false); return f.Servers[0].IsOnline })
	f = list(baseA, false).Servers[0]
	if !strings.Contains(f.StreamTitle, "B's evening show") || !strings.HasPrefix(f.URL, baseB+"/federation/") {
		t.Fatalf("featured after go-live = %+v", f)
	}

	// A stage channel of A follows B's account.
	admin := adminLogin(t, baseA)
	sid := newServer(t, baseA, admin.AccessToken)
	var ch struct{ ID string }
	if code := call(t, "POST", baseA+"/servers/"+sid+"/channels", admin.AccessToken, map[string]any{"name": "Relay", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("stage channel: %d", code)
	}
	hostB := strings.TrimPrefix(baseB, "http://")
	if code, body := owncastAdmin(t, baseA, "POST", "/api/admin/federation/servers", map[string]any{"url": "streamer@" + hostB, "stage": ch.ID}); code != 200 {
		t.Fatalf("stage follows B: %d %s", code, body)
	}
	poll(t, "B's Accept of the stage channel", 10*time.Second, func() bool {
		all := list(baseA, true).Servers
		return len(all) == 2 && all[0].Accepted && all[1].Accepted
	})
	if all := list(baseA, true).Servers; all[0].Actor != federation.StagePrefix+ch.ID {
		t.Fatalf("admin list = %+v", all)
	}

	// Unfollow: B receives the Undo.
	if code, body := owncastAdmin(t, baseA, "DELETE", "/api/admin/federation/servers/"+f.ID, nil); code != 200 {
		t.Fatalf("unfollow: %d %s", code, body)
	}
	poll(t, "B drops A's server actor", 10*time.Second, func() bool {
		_, body := owncastAdmin(t, baseB, "GET", "/api/followers", nil)
		_ = json.Unmarshal(body, &followers)
		return followers.Total == 1 && followers.Results[0].Link == baseA+"/federation/user/"+federation.StagePrefix+ch.ID
	})
	if len(list(baseA, false).Servers) != 0 {
		t.Fatal("the unfollowed server is still featured")
	}
}

// fedGet fetches an ActivityPub document and returns its status.
func fedGet(t *testing.T, url string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", federation.ContentType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// TestPrivateStageChannelIsNoActor: a stage channel of an invite-only
// community is no fediverse actor. Its actor document, WebFinger entry and
// collections answer 404 (they named the private channel to anyone who
// had its id), no one outside can follow it, and its go-live posts are not
// published (they carried the stream title to the public). Once the
// community is public the channel is an actor; when it turns private
// again its actor and its earlier posts are gone, its followers kept.
func TestPrivateStageChannelIsNoActor(t *testing.T) {
	t.Parallel()
	a, _ := start(t, fedConfig(t), nil)
	base := federate(t, a)
	admin := adminLogin(t, base)
	var srv, ch struct{ ID string }
	if code := call(t, "POST", base+"/servers", admin.AccessToken, map[string]any{"name": "Private", "is_public": false}, &srv); code != 201 {
		t.Fatalf("create server: %d", code)
	}
	if code := call(t, "POST", base+"/servers/"+srv.ID+"/channels", admin.AccessToken, map[string]any{"name": "Secret plans", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("stage channel: %d", code)
	}
	user := federation.StagePrefix + ch.ID
	actor := base + "/federation/user/" + user
	host := strings.TrimPrefix(base, "http://")
	private := func(when string) {
		t.Helper()
		for _, u := range []string{actor, actor + "/outbox", actor + "/followers",
			base + "/.well-known/webfinger?resource=" + url.QueryEscape("acct:"+user+"@"+host)} {
			if code := fedGet(t, u); code != 404 {
				t.Errorf("%s: GET %s = %d, want 404", when, u, code)
			}
		}
		if err := a.Federation.GoLive(context.Background(), user, "Secret plans revealed"); err == nil {
			t.Errorf("%s: a private stage channel posted its go-live", when)
		}
		var sa map[string]any
		if code, b := owncastAdmin(t, base, "GET", "/api/admin/federation/stages/"+ch.ID, nil); code != 200 ||
			json.Unmarshal(b, &sa) != nil || sa["public"] != false || sa["enabled"] != true {
			t.Errorf("%s: admin view = %d %s", when, code, b)
		}
	}
	private("invite-only")
	peer := newMastodon(t, "alice")
	if code := peer.follow(actor); code < 400 {
		t.Errorf("follow a private stage channel = %d", code)
	}

	// Public (and open): an actor, followed, posting.
	if code := call(t, "PATCH", base+"/servers/"+srv.ID, admin.AccessToken, map[string]any{"is_public": true}, nil); code != 200 {
		t.Fatalf("make public: %d", code)
	}
	if code := fedGet(t, actor); code != 200 {
		t.Fatalf("public stage channel actor = %d", code)
	}
	if code := peer.follow(actor); code != 202 {
		t.Fatalf("follow the public stage channel: %d", code)
	}
	peer.next("Accept")
	if err := a.Federation.GoLive(context.Background(), user, "Open mic"); err != nil {
		t.Fatal(err)
	}
	note, _ := peer.next("Create")["object"].(map[string]any)
	noteID, _ := note["id"].(string)
	if code := fedGet(t, noteID); code != 200 {
		t.Fatalf("public post %s = %d", noteID, code)
	}

	// Invite-only again: gone, its post too.
	if code := call(t, "PATCH", base+"/servers/"+srv.ID, admin.AccessToken, map[string]any{"require_invite": true}, nil); code != 200 {
		t.Fatalf("require invites: %d", code)
	}
	private("invites required")
	if code := fedGet(t, noteID); code != 404 {
		t.Errorf("a private stage channel's earlier post = %d, want 404", code)
	}
}

// TestStageChannelGoLivePostsWhenItsStageStarts: a broadcast to a stage
// channel's own stage (ffmpeg with the channel's key) posts the channel
// actor's go-live note to its followers (the server actor, followed too,
// posts nothing: its stage did not start). Before, only the default stage's start
// posted: the Owncast surface's live observer stopped at other stages.
func TestStageChannelGoLivePostsWhenItsStageStarts(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (.ci/run installs it)")
	}
	cfg := fedConfig(t)
	cfg.RTMPAddr = "127.0.0.1:0"
	cfg.FFmpegPath = "ffmpeg"
	a, _ := start(t, cfg, nil)
	base := federate(t, a)
	admin := adminLogin(t, base)
	sid := newServer(t, base, admin.AccessToken)
	var ch struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", admin.AccessToken, map[string]any{"name": "Concerts", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("stage channel: %d", code)
	}
	stageActor := base + "/federation/user/" + federation.StagePrefix + ch.ID
	peer := newMastodon(t, "alice")
	for _, actor := range []string{stageActor, base + "/federation/user/streamer"} {
		if code := peer.follow(actor); code != 202 {
			t.Fatalf("follow %s: %d", actor, code)
		}
		peer.next("Accept")
	}

	var key struct{ RTMPURL, StreamKey string }
	if code := call(t, "GET", base+"/api/stages/"+ch.ID+"/key", admin.AccessToken, nil, &key); code != 200 || key.StreamKey == "" {
		t.Fatalf("key: %d %+v", code, key)
	}
	if err := a.Live.SetVariants(context.Background(), ch.ID, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", key.RTMPURL+"/"+key.StreamKey)
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = pub.Wait(); close(exited) }()
	t.Cleanup(func() { _ = pub.Process.Kill(); <-exited })

	create := peer.next("Create")
	note, _ := create["object"].(map[string]any)
	if create["actor"] != stageActor || note == nil || !strings.Contains(note["content"].(string), "gone live") {
		t.Fatalf("go-live post on the stage's start: %v", create)
	}
}

// TestPrivateModeStageChannelFollowIsApproved: in private mode a follow
// waits for the admin's approval, and a stage channel actor's follows are
// its own, which the server actor's follower routes do not list: it could
// never be approved. The stage's follower routes list it pending; the
// admin's approval sends the Accept from the stage's actor and it is a
// follower; a rejected one is blocked.
func TestPrivateModeStageChannelFollowIsApproved(t *testing.T) {
	t.Parallel()
	a, _ := start(t, fedConfig(t), nil)
	base := federate(t, a)
	if code, b := owncastAdmin(t, base, "POST", "/api/admin/config/federation/private", map[string]any{"value": true}); code != 200 {
		t.Fatalf("private mode: %d %s", code, b)
	}
	admin := adminLogin(t, base)
	sid := newServer(t, base, admin.AccessToken)
	var ch struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", admin.AccessToken, map[string]any{"name": "Concerts", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("stage channel: %d", code)
	}
	stageActor := base + "/federation/user/" + federation.StagePrefix + ch.ID
	type followers struct {
		Total   int `json:"total"`
		Results []struct {
			Link string `json:"link"`
		} `json:"results"`
	}
	list := func(state string) followers {
		t.Helper()
		code, b := owncastAdmin(t, base, "GET", "/api/admin/federation/stages/"+ch.ID+"/followers?state="+state, nil)
		var f followers
		if code != 200 || json.Unmarshal(b, &f) != nil {
			t.Fatalf("%s followers: %d %s", state, code, b)
		}
		return f
	}
	alice, bob := newMastodon(t, "alice"), newMastodon(t, "bob")
	for _, p := range []*mastodon{alice, bob} {
		if code := p.follow(stageActor); code != 202 {
			t.Fatalf("follow: %d", code)
		}
	}
	if p := list("pending"); p.Total != 2 {
		t.Fatalf("pending = %+v", p)
	}
	if code, b := owncastAdmin(t, base, "POST", "/api/admin/federation/stages/"+ch.ID+"/followers/approve",
		map[string]any{"actorIRI": alice.actor(), "approved": true}); code != 200 {
		t.Fatalf("approve: %d %s", code, b)
	}
	if acc := alice.next("Accept"); acc["actor"] != stageActor {
		t.Fatalf("Accept from %v", acc["actor"])
	}
	if code, b := owncastAdmin(t, base, "POST", "/api/admin/federation/stages/"+ch.ID+"/followers/approve",
		map[string]any{"actorIRI": bob.actor(), "approved": false}); code != 200 {
		t.Fatalf("reject: %d %s", code, b)
	}
	if f := list("approved"); f.Total != 1 || f.Results[0].Link != alice.actor() {
		t.Fatalf("followers = %+v", f)
	}
	if f := list("blocked"); f.Total != 1 || f.Results[0].Link != bob.actor() {
		t.Fatalf("blocked = %+v", f)
	}
	if p := list("pending"); p.Total != 0 {
		t.Fatalf("still pending: %+v", p)
	}
	if code, b := owncastAdmin(t, base, "POST", "/api/admin/federation/stages/"+ch.ID+"/followers/remove",
		map[string]any{"actorIRI": alice.actor()}); code != 200 {
		t.Fatalf("remove: %d %s", code, b)
	}
	if f := list("approved"); f.Total != 0 {
		t.Fatalf("removed follower still listed: %+v", f)
	}
	if code, _ := owncastAdmin(t, base, "GET", "/api/admin/federation/stages/"+ch.ID+"/followers?state=nope", nil); code != 400 {
		t.Fatalf("unknown state: %d", code)
	}
	if code, _ := owncastAdmin(t, base, "GET", "/api/admin/federation/stages/"+sid+"/followers", nil); code != 404 {
		t.Fatalf("not a stage channel: %d", code)
	}
}

// TestUndoFollowOfPrivateStageChannel: a follower of a stage channel that
// unfollows while its community is private is removed (its Undo is
// answered 202), so that it is not sent go-live posts it would refuse
// once the channel is public again. Before, the inbox answered 404 (the
// actor is hidden), which the sender takes as final, and the follower was
// kept. Anyone else, and any other activity, still gets the 404 an
// unknown account gets.
func TestUndoFollowOfPrivateStageChannel(t *testing.T) {
	t.Parallel()
	a, _ := start(t, fedConfig(t), nil)
	base := federate(t, a)
	admin := adminLogin(t, base)
	srvID, chID := openStageChannel(t, base, admin.AccessToken, "Open mic")
	actor := base + "/federation/user/" + federation.StagePrefix + chID
	alice, mallory := newMastodon(t, "alice"), newMastodon(t, "mallory")
	if code := alice.follow(actor); code != 202 {
		t.Fatalf("follow: %d", code)
	}
	alice.next("Accept")
	followers := func() float64 {
		t.Helper()
		var page struct{ Total float64 }
		code, b := owncastAdmin(t, base, "GET", "/api/admin/federation/stages/"+chID+"/followers", nil)
		if code != 200 || json.Unmarshal(b, &page) != nil {
			t.Fatalf("followers: %d %s", code, b)
		}
		return page.Total
	}
	if n := followers(); n != 1 {
		t.Fatalf("followers = %v, want 1", n)
	}
	if code := call(t, "PATCH", base+"/servers/"+srvID, admin.AccessToken, map[string]any{"require_invite": true}, nil); code != 200 {
		t.Fatalf("require invites: %d", code)
	}
	undo := func(p *mastodon, object string) map[string]any {
		return map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": p.actor() + "#undo-" + object,
			"type": "Undo", "actor": p.actor(), "object": map[string]any{"type": "Follow", "actor": p.actor(), "object": object}}
	}
	// Nothing is revealed to one who does not follow it, nor for other
	// activities of a follower.
	if code := mallory.post(actor+"/inbox", undo(mallory, actor)); code != 404 {
		t.Errorf("a stranger's Undo = %d, want 404", code)
	}
	if code := alice.follow(actor); code != 404 {
		t.Errorf("a follower's Follow of the private channel = %d, want 404", code)
	}
	if code := alice.post(actor+"/inbox", undo(alice, base+"/federation/user/streamer")); code != 404 {
		t.Errorf("an Undo of a follow of another actor = %d, want 404", code)
	}
	unknown := base + "/federation/user/" + federation.StagePrefix + "0190aaaa-0000-7000-8000-000000000000"
	if code := alice.post(unknown+"/inbox", undo(alice, unknown)); code != 404 {
		t.Errorf("an Undo to an unknown stage actor = %d, want 404", code)
	}
	if n := followers(); n != 1 {
		t.Fatalf("followers after refused activities = %v, want 1", n)
	}
	// The follower's own Undo is honoured.
	if code := alice.post(actor+"/inbox", undo(alice, actor)); code != 202 {
		t.Fatalf("the follower's Undo while private = %d, want 202", code)
	}
	if n := followers(); n != 0 {
		t.Fatalf("followers after the Undo = %v, want 0", n)
	}
	// Again (a redelivery): the follow is gone, so it is unknown again.
	if code := alice.post(actor+"/inbox", undo(alice, actor)); code != 404 {
		t.Errorf("a second Undo = %d, want 404", code)
	}
}

// TestStageChannelWebFingerNamesItsStream: a stage channel's WebFinger
// entry names the channel's own page and stream, never the server's page
// or the default stage's stream (another stream). A channel bound to the
// default stage names Owncast's /hls/stream.m3u8 (its stream); one with
// its own stage names that stage's stable address for anyone,
// /stages/{id}/stream.m3u8, which sends a player (no account, no header)
// to a signed playlist that plays while the channel is public. Once the
// community is private, the entry, the address and the link it gave answer
// as unknown. Before, every stage channel's alternate link was the
// server's URL, then an own stage's named none.
func TestStageChannelWebFingerNamesItsStream(t *testing.T) {
	t.Parallel()
	a, _ := start(t, fedConfig(t), nil)
	base := federate(t, a)
	admin := adminLogin(t, base)
	srvID, ownID := openStageChannel(t, base, admin.AccessToken, "Concerts")
	var bound struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+srvID+"/channels", admin.AccessToken, map[string]any{"name": "Main", "type": "stage", "stage_id": "default"}, &bound); code != 201 {
		t.Fatalf("bound stage channel: %d", code)
	}
	host := strings.TrimPrefix(base, "http://")
	links := func(user string) map[string]string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/.well-known/webfinger?resource="+url.QueryEscape("acct:"+user+"@"+host), nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var doc struct {
			Links []struct{ Rel, Type, Href string }
		}
		if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&doc) != nil {
			t.Fatalf("webfinger %s: %d", user, res.StatusCode)
		}
		m := map[string]string{}
		for _, l := range doc.Links {
			m[l.Rel+" "+l.Type] = l.Href
		}
		return m
	}
	const page, hls = "http://webfinger.net/rel/profile-page text/html", "alternate application/x-mpegURL"
	for _, c := range []struct {
		name, user, page, hls string
	}{
		{"server actor", "streamer", base, base + "/hls/stream.m3u8"},
		{"own stage", federation.StagePrefix + ownID, base + "/c/" + srvID + "/" + ownID, base + "/stages/" + ownID + "/stream.m3u8"},
		{"bound to the default stage", federation.StagePrefix + bound.ID, base + "/c/" + srvID + "/" + bound.ID, base + "/hls/stream.m3u8"},
	} {
		l := links(c.user)
		if l[page] != c.page {
			t.Errorf("%s: profile page = %q, want %q", c.name, l[page], c.page)
		}
		if l[hls] != c.hls {
			t.Errorf("%s: stream = %q, want %q", c.name, l[hls], c.hls)
		}
	}
	// The own stage's address plays for anyone: a redirect to a signed
	// playlist, which answers.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fetch := func(u string) (int, string, string) {
		t.Helper()
		res, err := noRedirect.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Location"), strings.TrimSpace(string(b))
	}
	entry := base + "/stages/" + ownID + "/stream.m3u8"
	code, loc, _ := fetch(entry)
	if code != http.StatusFound || !strings.HasPrefix(loc, "/stages/"+ownID+"/hls/") || !strings.HasSuffix(loc, "/stream.m3u8") {
		t.Fatalf("the own stage's address = %d %q, want 302 to its signed playlist", code, loc)
	}
	if code, _, body := fetch(base + loc); code != 200 || !strings.HasPrefix(body, "#EXTM3U") {
		t.Fatalf("the signed playlist = %d %s", code, body)
	}
	// Private: no entry, and the address and its link answer as an
	// unknown channel's.
	if code := call(t, "PATCH", base+"/servers/"+srvID, admin.AccessToken, map[string]any{"require_invite": true}, nil); code != 200 {
		t.Fatalf("require invites: %d", code)
	}
	req, _ := http.NewRequest("GET", base+"/.well-known/webfinger?resource="+url.QueryEscape("acct:"+federation.StagePrefix+ownID+"@"+host), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("a private stage channel's WebFinger = %d, want 404", res.StatusCode)
	}
	wantCode, _, wantBody := fetch(base + "/stages/" + srvID + "/stream.m3u8") // not a stage channel
	if wantCode != 404 {
		t.Fatalf("an unknown channel's address = %d, want 404", wantCode)
	}
	// (Each node forgets its cached answers on the community's update
	// event, which comes after the PATCH's answer.)
	for _, u := range []string{entry, base + loc} {
		poll(t, u+" answering as unknown", 10*time.Second, func() bool {
			code, _, body := fetch(u)
			return code == wantCode && body == wantBody
		})
	}
}

// TestTwoHearthsUnfollowWhilePrivate: both directions of an unfollow that
// involves a stage channel whose community turned private. A follows B's
// stage channel; B's community turns private; A unfollows: B honours the
// Undo and forgets A (before, B's inbox answered 404, final for A's
// delivery, and B kept A as a follower). And a stage channel of A that
// follows B, hidden once A's community is private, unfollows B too, and B
// forgets it (before, the unfollow was refused with 400 until the channel
// was public again; TestHiddenStageChannelUnfollows checks the key fetch
// that lets B check the Undo).
func TestTwoHearthsUnfollowWhilePrivate(t *testing.T) {
	t.Parallel()
	a, _ := start(t, fedConfig(t), nil)
	b, _ := start(t, fedConfig(t), nil)
	baseA, baseB := federate(t, a), federate(t, b)
	adminA, adminB := adminLogin(t, baseA), adminLogin(t, baseB)
	srvA, chA := openStageChannel(t, baseA, adminA.AccessToken, "Stage")
	srvB, chB := openStageChannel(t, baseB, adminB.AccessToken, "Stage")
	stageB := baseB + "/federation/user/" + federation.StagePrefix + chB

	var followA, followStage struct{ ID string }
	code, body := owncastAdmin(t, baseA, "POST", "/api/admin/federation/servers", map[string]any{"url": stageB})
	if code != 200 || json.Unmarshal(body, &followA) != nil {
		t.Fatalf("A follows B's stage channel: %d %s", code, body)
	}
	code, body = owncastAdmin(t, baseA, "POST", "/api/admin/federation/servers", map[string]any{"url": baseB, "stage": chA})
	if code != 200 || json.Unmarshal(body, &followStage) != nil {
		t.Fatalf("A's stage channel follows B: %d %s", code, body)
	}
	followersOf := func(path string) int {
		t.Helper()
		var page struct{ Total int }
		code, body := owncastAdmin(t, baseB, "GET", path, nil)
		if code != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		return page.Total
	}
	stageFollowers := func() int { return followersOf("/api/admin/federation/stages/" + chB + "/followers") }
	serverFollowers := func() int { return followersOf("/api/admin/followers") }
	poll(t, "B's Accepts", 10*time.Second, func() bool { return stageFollowers() == 1 && serverFollowers() == 1 })

	for _, c := range []struct{ base, token, srv string }{{baseA, adminA.AccessToken, srvA}, {baseB, adminB.AccessToken, srvB}} {
		if code := call(t, "PATCH", c.base+"/servers/"+c.srv, c.token, map[string]any{"require_invite": true}, nil); code != 200 {
			t.Fatalf("require invites: %d", code)
		}
	}
	// A's server actor unfollows B's private stage channel: B forgets A.
	if code, body := owncastAdmin(t, baseA, "DELETE", "/api/admin/federation/servers/"+followA.ID, nil); code != 200 {
		t.Fatalf("unfollow B's stage channel: %d %s", code, body)
	}
	poll(t, "B's private stage channel forgetting A", 10*time.Second, func() bool { return stageFollowers() == 0 })

	// A's private stage channel unfollows B: B forgets it.
	if code, body := owncastAdmin(t, baseA, "DELETE", "/api/admin/federation/servers/"+followStage.ID, nil); code != 200 {
		t.Fatalf("the hidden stage channel's unfollow = %d %s, want 200", code, body)
	}
	poll(t, "B forgetting A's stage channel", 10*time.Second, func() bool { return serverFollowers() == 0 })
}

// openStageChannel creates a public server (newServer) with a stage channel
// of its own stage, named name, and answers both ids.
func openStageChannel(t *testing.T, base, token, name string) (serverID, channelID string) {
	t.Helper()
	serverID = newServer(t, base, token)
	var ch struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+serverID+"/channels", token, map[string]any{"name": name, "type": "stage"}, &ch); code != 201 {
		t.Fatalf("stage channel: %d", code)
	}
	return serverID, ch.ID
}
