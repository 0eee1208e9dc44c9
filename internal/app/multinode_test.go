package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

func call(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
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
	if storetest.PostgresURL() == "" || natsURL() == "" {
		t.Skip("needs HEARTH_TEST_POSTGRES_URL and HEARTH_TEST_NATS_URL")
	}
	dsn := storetest.PostgresDSN(t)
	node := func() string {
		cfg := testConfig(t)
		cfg.Database, cfg.Bus = dsn, natsURL()
		cfg.JWTSecret = "" // both nodes must agree on the stored secret
		a, _ := start(t, cfg, nil)
		return a.HTTP.URL()
	}
	return node(), node()
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
		tok := ottToken(t, base)
		var room struct{ Title string }
		poll(t, "the room on "+base, 10*time.Second, func() bool {
			return call(t, "GET", base+"/api/room/"+name, tok, nil, &room) == 200 && room.Title == "Cinema"
		})
	}
	if code := call(t, "DELETE", urlB+"/servers/"+sid+"/channels/"+chID, alice.AccessToken, nil, nil); code != 204 {
		t.Fatalf("delete channel on B: %d", code)
	}
	for _, base := range []string{urlA, urlB} {
		tok := ottToken(t, base)
		poll(t, "the room's deletion on "+base, 10*time.Second, func() bool {
			return call(t, "GET", base+"/api/room/"+name, tok, nil, nil) == 404
		})
	}
}
