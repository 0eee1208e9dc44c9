package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/watch"
)

// TestOttWiring checks the OTT surface as wired in a node: its routes
// coexist with the other surfaces', /api/status carries OTT's status, and
// room chat lands in the message store as a Hearth conversation.
func TestOttWiring(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	get := func(path, tok string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	if code, b := get("/api/status", ""); code != 200 || !strings.Contains(string(b), `"status":"ok"`) {
		t.Fatalf("/api/status: %d %s", code, b)
	}
	if code, b := get("/api/status/metrics", ""); code != 200 || !strings.Contains(string(b), "hearth_http_requests_total") {
		t.Fatalf("metrics: %d", code)
	}
	code, b := get("/api/auth/grant", "")
	var g struct{ Token string }
	if code != 200 || json.Unmarshal(b, &g) != nil || g.Token == "" {
		t.Fatalf("grant: %d %s", code, b)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/room/create", strings.NewReader(`{"name":"wired","isTemporary":false}`))
	req.Header.Set("Authorization", "Bearer "+g.Token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", err, res)
	}
	res.Body.Close()

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/api/room/wired", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	send := func(v any) {
		b, _ := json.Marshal(v)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	send(map[string]any{"action": "auth", "token": g.Token})
	send(map[string]any{"action": "req", "request": map[string]any{"type": int(watch.ReqChat), "text": "kept for later"}})
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"action":"chat"`) {
			break
		}
	}
	for {
		ms, err := a.Messages.List(ctx, messages.ListQuery{ConversationID: watch.ConversationID("wired"), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 1 && ms[0].Body == "kept for later" && ms[0].Kind == messages.KindWatch && ms[0].AuthorID != nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("room chat never reached the message store: %v", ms)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestWatchChannelHasItsRoom: creating a community watch channel creates
// its watch room (unlisted, ownerless, titled after the channel, with the
// channel's grants); renaming the channel retitles the room; deleting the
// channel, or its community, deletes the room.
func TestWatchChannelHasItsRoom(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	alice := register(t, base, "alice")
	sid := newServer(t, base, alice.AccessToken)
	chID, name := newWatchChannel(t, base, alice.AccessToken, sid, "Movie night")
	var room struct{ Name, Title, Visibility string }
	tok := ottLogin(t, base, "alice")
	poll(t, "the channel's room", 10*time.Second, func() bool { return call(t, "GET", base+"/api/room/"+name, tok, nil, &room) == 200 })
	if room.Title != "Movie night" || room.Visibility != "unlisted" {
		t.Fatalf("room %+v", room)
	}
	r, err := a.Watch.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if snap := r.Snapshot(); snap.OwnerID != "" || snap.Grants != watch.ChannelGrants() || r.Channel() != chID {
		t.Fatalf("owner %q grants %v channel %q", snap.OwnerID, snap.Grants, r.Channel())
	}
	if code := call(t, "POST", base+"/api/room/create", tok, map[string]any{"name": "openroom", "isTemporary": false}, nil); code != 201 {
		t.Fatalf("create a public room: %d", code)
	}
	var list []struct{ Name string }
	if code := call(t, "GET", base+"/api/room/list", tok, nil, &list); code != 200 {
		t.Fatalf("list: %d", code)
	}
	var names []string
	for _, l := range list {
		names = append(names, strings.ToLower(l.Name))
	}
	if !slices.Contains(names, "openroom") || slices.Contains(names, name) {
		t.Fatalf("room list %v: want openroom, not the channel's room", names)
	}
	// Renaming the channel retitles the room.
	if code := call(t, "PATCH", base+"/servers/"+sid+"/channels/"+chID, alice.AccessToken, map[string]string{"name": "Film club"}, nil); code != 200 {
		t.Fatalf("rename channel: %d", code)
	}
	poll(t, "the room's new title", 10*time.Second, func() bool {
		return call(t, "GET", base+"/api/room/"+name, tok, nil, &room) == 200 && room.Title == "Film club"
	})
	if code := call(t, "DELETE", base+"/servers/"+sid+"/channels/"+chID, alice.AccessToken, nil, nil); code != 204 {
		t.Fatalf("delete channel: %d", code)
	}
	poll(t, "the room's deletion", 10*time.Second, func() bool { return call(t, "GET", base+"/api/room/"+name, tok, nil, nil) == 404 })

	// Deleting the community deletes the rooms of its watch channels.
	_, name = newWatchChannel(t, base, alice.AccessToken, sid, "Reruns")
	poll(t, "the second channel's room", 10*time.Second, func() bool { return call(t, "GET", base+"/api/room/"+name, tok, nil, nil) == 200 })
	if code := call(t, "DELETE", base+"/servers/"+sid, alice.AccessToken, nil, nil); code != 204 {
		t.Fatalf("delete server: %d", code)
	}
	poll(t, "the room's deletion with its community", 10*time.Second, func() bool {
		return call(t, "GET", base+"/api/room/"+name, tok, nil, nil) == 404
	})
}

// TestWatchChannelRoomObeysTheCommunity: a watch channel's room is open,
// through OTT's REST API and its socket, only to those who can see the
// channel: not to guests, non-members, members a VIEW_CHANNEL override
// hides it from, or a banned member, whose open socket the ban closes. No
// one changes its title, visibility or grants through OTT, and it is never
// listed.
func TestWatchChannelRoomObeysTheCommunity(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	alice := register(t, base, "owneralice")
	bob := register(t, base, "memberbob")
	carol := register(t, base, "hiddencarol")
	erin := register(t, base, "latererin")
	register(t, base, "strangerdan")
	sid := newServer(t, base, alice.AccessToken)
	for _, l := range []login{bob, carol, erin} {
		if code := call(t, "POST", base+"/servers/"+sid+"/join", l.AccessToken, nil, nil); code != 200 && code != 201 {
			t.Fatalf("join: %d", code)
		}
	}
	chID, name := newWatchChannel(t, base, alice.AccessToken, sid, "Movie night")
	if code := call(t, "PUT", base+"/channels/"+chID+"/overrides", alice.AccessToken,
		map[string]any{"user_id": carol.User.ID, "allow": 0, "deny": community.PermViewChannel}, nil); code != 200 {
		t.Fatalf("override hiding the channel from carol: %d", code)
	}
	bobTok := ottLogin(t, base, "memberbob")
	poll(t, "the channel's room", 10*time.Second, func() bool { return call(t, "GET", base+"/api/room/"+name, bobTok, nil, nil) == 200 })

	for who, tok := range map[string]string{"guest": ottToken(t, base), "non-member": ottLogin(t, base, "strangerdan"),
		"hidden by an override": ottLogin(t, base, "hiddencarol")} {
		var e struct {
			Success bool
			Error   struct{ Name string }
		}
		if code := call(t, "GET", base+"/api/room/"+name, tok, nil, &e); code != 404 || e.Success || e.Error.Name != "RoomNotFoundException" {
			t.Errorf("%s: GET %d %+v, want 404 RoomNotFoundException", who, code, e)
		}
		if code := call(t, "POST", base+"/api/room/"+name+"/queue", tok, map[string]string{"service": "direct", "id": "https://example.com/a.mp4"}, nil); code != 404 {
			t.Errorf("%s: queue %d, want 404", who, code)
		}
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		if code := ottSocketRefused(ctx, t, base, name, tok); code != 4002 {
			t.Errorf("%s: socket closed with %d, want 4002 (room not found)", who, code)
		}
		cancel()
	}
	for _, body := range []map[string]any{{"title": "mine"}, {"visibility": "public"}, {"grants": [][2]int{{0, 134217727}}}, {"claim": true}} {
		var e struct{ Error struct{ Name string } }
		if code := call(t, "PATCH", base+"/api/room/"+name, bobTok, body, &e); code != 400 || e.Error.Name != "PermissionDeniedException" {
			t.Errorf("PATCH %v: %d %q, want OTT's 400 PermissionDeniedException", body, code, e.Error.Name)
		}
	}
	var list []struct{ Name string }
	if code := call(t, "GET", base+"/api/room/list", bobTok, nil, &list); code != 200 {
		t.Fatalf("list: %d", code)
	}
	for _, l := range list {
		if strings.EqualFold(l.Name, name) {
			t.Fatalf("the channel's room is listed: %v", list)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// An override that hides the channel from a member closes their socket.
	erinWS := ottJoin(ctx, t, base, name, ottLogin(t, base, "latererin"))
	defer erinWS.CloseNow()
	if code := call(t, "PUT", base+"/channels/"+chID+"/overrides", alice.AccessToken,
		map[string]any{"user_id": erin.User.ID, "allow": 0, "deny": community.PermViewChannel}, nil); code != 200 {
		t.Fatalf("override hiding the channel from erin: %d", code)
	}
	if code := ottClosedWith(ctx, erinWS); code != 4005 {
		t.Fatalf("hidden member's socket closed with %d, want 4005", code)
	}

	ws := ottJoin(ctx, t, base, name, bobTok)
	defer ws.CloseNow()
	if code := call(t, "POST", base+"/servers/"+sid+"/members/"+bob.User.ID+"/ban", alice.AccessToken, map[string]any{}, nil); code != 204 && code != 200 {
		t.Fatalf("ban: %d", code)
	}
	if code := ottClosedWith(ctx, ws); code != 4005 {
		t.Fatalf("banned member's socket closed with %d, want 4005", code)
	}
	if code := call(t, "GET", base+"/api/room/"+name, bobTok, nil, nil); code != 404 {
		t.Fatalf("banned member GET: %d, want 404", code)
	}
}

// ottLogin returns an OpenTogetherTube token signed in as the account
// registered with register (password "password1").
func ottLogin(t *testing.T, base, user string) string {
	t.Helper()
	tok := ottToken(t, base)
	if code := call(t, "POST", base+"/api/user/login", tok, map[string]string{"user": user, "password": "password1"}, nil); code != 200 {
		t.Fatalf("OTT login %s: %d", user, code)
	}
	return tok
}

func ottDial(ctx context.Context, t *testing.T, base, name, tok string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, "ws"+base[4:]+"/api/room/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"action": "auth", "token": tok})
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	return ws
}

// ottJoin joins room name's socket and returns it once joined.
func ottJoin(ctx context.Context, t *testing.T, base, name, tok string) *websocket.Conn {
	t.Helper()
	ws := ottDial(ctx, t, base, name, tok)
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("join %s: %v", name, err)
		}
		if strings.Contains(string(b), `"action":"you"`) {
			return ws
		}
	}
}

// ottSocketRefused dials room name's socket and returns its close code.
func ottSocketRefused(ctx context.Context, t *testing.T, base, name, tok string) websocket.StatusCode {
	t.Helper()
	ws := ottDial(ctx, t, base, name, tok)
	defer ws.CloseNow()
	return ottClosedWith(ctx, ws)
}

// ottClosedWith reads until the socket closes and returns the close code
// (-1 when it ended otherwise).
func ottClosedWith(ctx context.Context, ws *websocket.Conn) websocket.StatusCode {
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

// ottToken returns an OpenTogetherTube token (its API wants one on every
// call).
func ottToken(t *testing.T, base string) string {
	t.Helper()
	var g struct{ Token string }
	if code := call(t, "GET", base+"/api/auth/grant", "", nil, &g); code != 200 || g.Token == "" {
		t.Fatalf("grant: %d", code)
	}
	return g.Token
}

// newWatchChannel creates a watch channel in server sid and returns its id
// and the name of its room.
func newWatchChannel(t *testing.T, base, token, sid, name string) (id, room string) {
	t.Helper()
	var ch struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", token, map[string]string{"name": name, "type": "watch"}, &ch); code != 201 {
		t.Fatalf("create watch channel %q: %d", name, code)
	}
	return ch.ID, watch.RoomName(ch.ID)
}

// TestOttDiscordWiring: the --discord-* flags reach OTT's surface: the
// sign-in route sends a browser to the configured authorization endpoint
// with the client id and the callback URL.
func TestOttDiscordWiring(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.DiscordClientID, cfg.DiscordClientSecret = "wired-client", "wired-secret"
	cfg.DiscordAuthorizeURL = "https://id.example/oauth2/authorize"
	cfg.DiscordTokenURL, cfg.DiscordUserURL = "https://id.example/token", "https://id.example/me"
	a, _ := start(t, cfg, nil)
	base := a.HTTP.URL()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(base + "/api/auth/discord?redirect=/room/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound || loc.Host != "id.example" || loc.Query().Get("client_id") != "wired-client" ||
		loc.Query().Get("redirect_uri") != base+"/api/auth/discord/callback" || loc.Query().Get("scope") != "identify" {
		t.Fatalf("discord start: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}
