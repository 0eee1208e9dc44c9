package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/app"
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
// its watch room (unlisted, owned by the channel's creator, titled after
// the channel); renaming the channel retitles the room; deleting the
// channel, or its community, deletes the room.
func TestWatchChannelHasItsRoom(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	alice := register(t, base, "alice")
	sid := newServer(t, base, alice.AccessToken)
	chID, name := newWatchChannel(t, base, alice.AccessToken, sid, "Movie night")
	var room struct{ Name, Title, Visibility string }
	tok := ottToken(t, base)
	poll(t, "the channel's room", 10*time.Second, func() bool { return call(t, "GET", base+"/api/room/"+name, tok, nil, &room) == 200 })
	if room.Title != "Movie night" || room.Visibility != "unlisted" {
		t.Fatalf("room %+v", room)
	}
	r, err := a.Watch.Get(context.Background(), name)
	if err != nil || r.Snapshot().OwnerID != alice.User.ID {
		t.Fatalf("owner: %v", err)
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
	return ch.ID, app.WatchRoomName(ch.ID)
}
