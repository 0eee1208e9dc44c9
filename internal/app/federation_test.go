package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/federation"
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
