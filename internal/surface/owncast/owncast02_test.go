package owncast_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/openapitest"
)

// TestOwncast02Routes: the admin's per-player playback view, the
// integration's status, and the refused RTMP bind address setter.
func TestOwncast02Routes(t *testing.T) {
	t.Parallel()
	doc := openapitest.Load(t, "owncast.yaml")
	tr := openapitest.NewTransport(t, doc, nil)
	ln := newLiveNode(t, nil, 2)
	lc := &ocClient{t: t, base: ln.url, http: tr.Client()}
	cn := &ocClient{t: t, base: newNode(t, nodeOpts{}).url, http: tr.Client()}

	if got := lc.list(200, "GET", "/api/admin/viewers/playback", "admin", nil); len(got) != 0 {
		t.Fatalf("no reports yet: %v", got)
	}
	lc.do(401, "GET", "/api/admin/viewers/playback", "", nil)
	lc.do(200, "POST", "/api/metrics/playback", "", map[string]any{"bandwidth": 4200, "latency": 3.5, "errors": 1, "downloadDuration": 0.8})
	got := lc.list(200, "GET", "/api/admin/viewers/playback", "admin", nil)
	if len(got) != 1 {
		t.Fatalf("clients %v", got)
	}
	p := got[0]["playback"].(map[string]any)
	if p["source"] != "client" || p["lastUpdate"] == "" || got[0]["firstSeen"] == "" || got[0]["ipAddress"] != "127.0.0.1" {
		t.Fatalf("client %v", got[0])
	}
	delete(p, "lastUpdate")
	pb, _ := json.Marshal(p)
	if got[0]["viewerID"] == "" || string(pb) != `{"bandwidthKbps":4200,"downloadSeconds":0.8,"errorCount":1,"latencySeconds":3.5,"qualityVariantChanges":0,"source":"client"}` {
		t.Fatalf("client %v %s", got[0], pb)
	}

	_, _, tok, err := ln.id.CreateIntegrationToken(context.Background(), "robot", []string{"HAS_ADMIN_ACCESS"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, weak, err := ln.id.CreateIntegrationToken(context.Background(), "weak", []string{"CAN_SEND_MESSAGES"})
	if err != nil {
		t.Fatal(err)
	}
	if st := lc.obj(200, "GET", "/api/integrations/status", "bearer:"+tok, nil); st["online"] != false || st["versionNumber"] == nil {
		t.Fatalf("integration status %v", st)
	}
	lc.do(401, "GET", "/api/integrations/status", "", nil)
	lc.do(401, "GET", "/api/integrations/status", "bearer:"+weak, nil)

	if b := cn.do(400, "POST", "/api/admin/config/rtmpserverbindaddress", "admin", map[string]any{"value": "127.0.0.1"}); !strings.Contains(string(b), "--rtmp-addr") {
		t.Fatalf("bind address: %s", b)
	}
	cn.do(401, "POST", "/api/admin/config/rtmpserverbindaddress", "", map[string]any{"value": "127.0.0.1"})
}
