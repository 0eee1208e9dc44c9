package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// call sends body as JSON, or as it is when it is a rawBody (a multipart
// form), and decodes the answer into out.
func call(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	rd, ct := bytes.NewReader(nil), "application/json"
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, ct = bytes.NewReader(b.data), b.ct
	default:
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", ct)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// twoNodes starts two nodes on one PostgreSQL database and one NATS server
// and returns their base URLs; it skips the test without both.
func twoNodes(t *testing.T) (urlA, urlB string) {
	t.Helper()
	a, b := clusterPair(t, nil)
	return a.HTTP.URL(), b.HTTP.URL()
}

// clusterPair starts nodes A and B on one PostgreSQL database and one NATS
// server, each with its own data directory, their config adjusted by tweak
// (when set); it skips the test without both.
func clusterPair(t *testing.T, tweak func(*config.Config)) (a, b *app.App) {
	t.Helper()
	if storetest.PostgresURL() == "" || natsURL() == "" {
		t.Skip("needs HEARTH_TEST_POSTGRES_URL and HEARTH_TEST_NATS_URL")
	}
	dsn := storetest.PostgresDSN(t)
	return clusterNode(t, dsn, tweak), clusterNode(t, dsn, tweak)
}

// TestTwoNodesShareOneCommunity: two nodes on one PostgreSQL and one NATS
// behave as one instance: an account registered on node A signs in to node
// B's gateway, and a message posted through node A's REST API reaches the
// socket on node B.
func TestTwoNodesShareOneCommunity(t *testing.T) {
	t.Parallel()
	urlA, urlB := twoNodes(t)

	var auth struct {
		AccessToken string `json:"access_token"`
	}
	if code := call(t, "POST", urlA+"/auth/register", "", map[string]string{"username": "nodey", "password": "password1"}, &auth); code != 201 {
		t.Fatalf("register on A: %d", code)
	}
	var srv struct{ ID string }
	if code := call(t, "POST", urlA+"/servers", auth.AccessToken, map[string]string{"name": "Scale"}, &srv); code != 201 {
		t.Fatalf("create server on A: %d", code)
	}
	var ch struct{ ID string }
	if code := call(t, "POST", urlA+"/servers/"+srv.ID+"/channels", auth.AccessToken, map[string]string{"name": "general", "type": "text"}, &ch); code != 201 {
		t.Fatalf("create channel on A: %d", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+urlB[4:]+"/ws?token="+auth.AccessToken, nil)
	if err != nil {
		t.Fatalf("gateway on B with a token from A: %v", err)
	}
	defer ws.CloseNow()
	type frame struct {
		Op string          `json:"op"`
		T  string          `json:"t"`
		D  json.RawMessage `json:"d"`
	}
	read := func() frame {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var f frame
		_ = json.Unmarshal(b, &f)
		return f
	}
	if f := read(); f.T != "READY" {
		t.Fatalf("first frame %s %s, want READY", f.Op, f.T)
	}
	var msg struct{ ID, Content string }
	if code := call(t, "POST", urlA+"/channels/"+ch.ID+"/messages", auth.AccessToken, map[string]string{"content": "hello from A"}, &msg); code != 201 {
		t.Fatalf("post on A: %d", code)
	}
	for {
		f := read()
		if f.T != "MESSAGE_CREATE" {
			continue
		}
		var got struct{ ID, Content string }
		_ = json.Unmarshal(f.D, &got)
		if got.ID != msg.ID || got.Content != "hello from A" {
			t.Fatalf("MESSAGE_CREATE on B: %s", f.D)
		}
		return
	}
}

// TestTwoNodesWatchChannelRoom: both nodes receive a watch channel's
// events and both try to create (and later delete) its room; they end with
// one room, reachable through either node, and none after the delete.
func TestTwoNodesWatchChannelRoom(t *testing.T) {
	t.Parallel()
	urlA, urlB := twoNodes(t)
	alice := register(t, urlA, "watcher")
	sid := newServer(t, urlA, alice.AccessToken)
	chID, name := newWatchChannel(t, urlA, alice.AccessToken, sid, "Cinema")
	for _, base := range []string{urlA, urlB} {
		tok := ottLogin(t, base, "watcher")
		var room struct{ Title string }
		poll(t, "the room on "+base, 10*time.Second, func() bool {
			return call(t, "GET", base+"/api/room/"+name, tok, nil, &room) == 200 && room.Title == "Cinema"
		})
	}
	if code := call(t, "DELETE", urlB+"/servers/"+sid+"/channels/"+chID, alice.AccessToken, nil, nil); code != 204 {
		t.Fatalf("delete channel on B: %d", code)
	}
	for _, base := range []string{urlA, urlB} {
		tok := ottLogin(t, base, "watcher")
		poll(t, "the room's deletion on "+base, 10*time.Second, func() bool {
			return call(t, "GET", base+"/api/room/"+name, tok, nil, nil) == 404
		})
	}
}

// TestTwoNodesBanClosesRoomSocket: a member joined to a watch channel's
// room through node B is banned through node A; the community event reaches
// every node, the room's socket on B is closed (4005), and neither node
// lets the banned member open the room again.
func TestTwoNodesBanClosesRoomSocket(t *testing.T) {
	t.Parallel()
	urlA, urlB := twoNodes(t)
	alice := register(t, urlA, "banowner")
	bob := register(t, urlA, "banmember")
	sid := newServer(t, urlA, alice.AccessToken)
	if code := call(t, "POST", urlB+"/servers/"+sid+"/join", bob.AccessToken, nil, nil); code != 200 && code != 201 {
		t.Fatalf("join on B: %d", code)
	}
	_, name := newWatchChannel(t, urlA, alice.AccessToken, sid, "Late show")
	bobTok := ottLogin(t, urlB, "banmember")
	poll(t, "the room on B", 10*time.Second, func() bool { return call(t, "GET", urlB+"/api/room/"+name, bobTok, nil, nil) == 200 })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws := ottJoin(ctx, t, urlB, name, bobTok)
	defer ws.CloseNow()
	if code := call(t, "POST", urlA+"/servers/"+sid+"/members/"+bob.User.ID+"/ban", alice.AccessToken, map[string]any{}, nil); code != 204 && code != 200 {
		t.Fatalf("ban on A: %d", code)
	}
	if code := ottClosedWith(ctx, ws); code != 4005 {
		t.Fatalf("the banned member's socket on B closed with %d, want 4005", code)
	}
	for _, base := range []string{urlA, urlB} {
		tok := ottLogin(t, base, "banmember")
		if code := call(t, "GET", base+"/api/room/"+name, tok, nil, nil); code != 404 {
			t.Errorf("banned member GET on %s: %d, want 404", base, code)
		}
		if code := ottSocketRefused(ctx, t, base, name, tok); code != 4002 {
			t.Errorf("banned member's socket on %s: %d, want 4002", base, code)
		}
	}
}

// TestTwoNodesBanStopsStageHLS: a member plays a stage channel through node
// B; banned through node A, the signed HLS URL B handed out plays no more.
func TestTwoNodesBanStopsStageHLS(t *testing.T) {
	t.Parallel()
	urlA, urlB := twoNodes(t)
	alice := register(t, urlA, "hlsowner")
	bob := register(t, urlA, "hlsmember")
	sid := newServer(t, urlA, alice.AccessToken)
	if code := call(t, "POST", urlA+"/servers/"+sid+"/join", bob.AccessToken, nil, nil); code != 200 && code != 201 {
		t.Fatalf("join: %d", code)
	}
	var ch struct{ ID string }
	if code := call(t, "POST", urlA+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "Gigs", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("create stage channel: %d", code)
	}
	var st stageStatus
	if code := call(t, "GET", urlB+"/api/stages/"+ch.ID+"/status", bob.AccessToken, nil, &st); code != 200 || st.HLSURL == "" {
		t.Fatalf("status on B: %d %+v", code, st)
	}
	if code, _, _ := get(t, urlB+st.HLSURL); code != 200 {
		t.Fatalf("member plays on B: %d", code)
	}
	if code := call(t, "POST", urlA+"/servers/"+sid+"/members/"+bob.User.ID+"/ban", alice.AccessToken, map[string]any{}, nil); code != 204 && code != 200 {
		t.Fatalf("ban on A: %d", code)
	}
	poll(t, "the banned member's HLS refused on B", 10*time.Second, func() bool {
		code, _, _ := get(t, urlB+st.HLSURL)
		return code == 404
	})
}

// TestRefreshRetryOnAnotherNode: Together's web client refreshes once per
// request that got a 401, so two refreshes with one refresh token go out at
// once and, behind a load balancer, reach different nodes. The node that
// loses the rotation answers with the winner's pair (the grace is kept with
// the session, not in the rotating node's memory), and the session lives on.
func TestRefreshRetryOnAnotherNode(t *testing.T) {
	t.Parallel()
	urlA, urlB := twoNodes(t)
	type pair struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	var reg pair
	if code := call(t, "POST", urlA+"/auth/register", "", map[string]string{"username": "balanced", "password": "password1"}, &reg); code != 201 {
		t.Fatalf("register on A: %d", code)
	}
	var onA, onB pair
	if code := call(t, "POST", urlA+"/auth/refresh", "", map[string]string{"refresh_token": reg.RefreshToken}, &onA); code != 200 {
		t.Fatalf("refresh on A: %d", code)
	}
	if code := call(t, "POST", urlB+"/auth/refresh", "", map[string]string{"refresh_token": reg.RefreshToken}, &onB); code != 200 {
		t.Fatalf("the same refresh on B within the grace: %d, want 200", code)
	}
	if onB != onA {
		t.Fatalf("B answered another pair: %+v, want A's %+v", onB, onA)
	}
	if code := call(t, "GET", urlB+"/users/@me", onB.AccessToken, nil, nil); code != 200 {
		t.Fatalf("the pair on B: %d", code)
	}
	if code := call(t, "POST", urlB+"/auth/refresh", "", map[string]string{"refresh_token": onB.RefreshToken}, &onB); code != 200 {
		t.Fatalf("the session goes on: %d", code)
	}
}
