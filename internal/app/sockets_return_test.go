package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/app"
)

// socketsOpen reads hearth_sockets_open from the node's metrics.
func socketsOpen(t *testing.T, a *app.App) float64 {
	t.Helper()
	mfs, err := a.HTTP.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "hearth_sockets_open" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no hearth_sockets_open metric")
	return 0
}

// TestSocketBudgetComesBack: every way a socket of each surface ends gives
// its place in the node's socket budget back: refused after the upgrade
// (Owncast's needs-registration, a Together frame over the read limit, OTT's
// unknown room),
// closed by the client with a close frame, or dropped without one. A place
// that leaked would, over a day of reconnects, leave the node refusing
// every socket with 503.
func TestSocketBudgetComesBack(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	wsBase := "ws" + strings.TrimPrefix(base, "http")
	var reg struct{ AccessToken string }
	if code := call(t, "POST", base+"/api/chat/register", "", map[string]string{"displayName": "viewer"}, &reg); code != 200 {
		t.Fatalf("chat register: %d", code)
	}
	together := register(t, base, "sockets").AccessToken
	ott := ottToken(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	dial := func(url string) *websocket.Conn {
		t.Helper()
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		return ws
	}
	// readOne waits for the server's first frame (the socket is set up).
	readOne := func(ws *websocket.Conn) {
		t.Helper()
		if _, _, err := ws.Read(ctx); err != nil {
			t.Fatalf("first frame: %v", err)
		}
	}
	untilClosed := func(ws *websocket.Conn) {
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}
	for range 20 {
		// Refused by the surface after the upgrade.
		untilClosed(dial(wsBase + "/ws?accessToken=nope"))
		ws := dial(wsBase + "/ws?token=" + together)
		readOne(ws)
		_ = ws.Write(ctx, websocket.MessageText, make([]byte, 8<<20)) // over the read limit: the server closes it
		untilClosed(ws)
		untilClosed(ottDial(ctx, t, base, "no-such-room", ott))
		// Closed by the client, with a close frame and without.
		ws = dial(wsBase + "/ws?accessToken=" + reg.AccessToken)
		readOne(ws)
		_ = ws.Close(websocket.StatusNormalClosure, "")
		ws = dial(wsBase + "/ws?accessToken=" + reg.AccessToken)
		readOne(ws)
		_ = ws.CloseNow()
		ws = dial(wsBase + "/ws?token=" + together)
		readOne(ws)
		_ = ws.CloseNow()
		ws = dial(wsBase + "/ws?token=" + together)
		readOne(ws)
		_ = ws.Close(websocket.StatusNormalClosure, "")
	}
	deadline := time.Now().Add(hangGuard)
	for socketsOpen(t, a) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%v sockets still counted open after every client left", socketsOpen(t, a))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
