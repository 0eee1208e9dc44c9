package owncast_test

import (
	"context"
	"encoding/json"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/rtmp"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func (n *liveNode) post(t *testing.T, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", n.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", "abc123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func TestLiveAdminSetters(t *testing.T) {
	t.Parallel()
	n := newLiveNode(t, nil, 2)
	n.live.SetIngestPort(1935) // as wireLive does with its RTMP listener
	ctx := context.Background()
	cases := []struct {
		path, body string
		code       int
		check      func(t *testing.T)
	}{
		{"/api/admin/config/streamkeys", `{"value":[{"key":"k1","comment":"OBS"},{"key":"k2","comment":"phone"}]}`, 200, func(t *testing.T) {
			keys, _ := n.live.StreamKeys(ctx, n.stage)
			if len(keys) != 2 || keys[0].Key != "k1" || keys[1].Comment != "phone" {
				t.Fatalf("keys %+v", keys)
			}
		}},
		{"/api/admin/config/streamkeys", `{"value":[]}`, 400, nil},
		{"/api/admin/config/streamkeys", `{"value":[{"key":"a b"}]}`, 400, nil},
		{"/api/admin/config/streamkeys", `{"value":"nope"}`, 400, nil},
		{"/api/admin/config/streamkeys", `not json`, 400, nil},
		{"/api/admin/config/video/codec", `{"value":"libx264"}`, 200, nil},
		{"/api/admin/config/video/codec", `{"value":"-f null; rm"}`, 400, nil},
		{"/api/admin/config/video/streamlatencylevel", `{"value":4}`, 200, func(t *testing.T) {
			st, _ := n.live.StageSettings(ctx, n.stage)
			if st.LatencyLevel != 4 {
				t.Fatalf("level %d", st.LatencyLevel)
			}
		}},
		{"/api/admin/config/video/streamlatencylevel", `{"value":9}`, 400, nil},
		{"/api/admin/config/video/streamoutputvariants", `{"value":[{"videoPassthrough":true},{"videoBitrate":800,"scaledHeight":480,"framerate":30,"cpuUsageLevel":1}]}`, 200, func(t *testing.T) {
			st, _ := n.live.StageSettings(ctx, n.stage)
			if len(st.Variants) != 2 || !st.Variants[0].VideoPassthrough || st.Variants[1].ScaledHeight != 480 {
				t.Fatalf("variants %+v", st.Variants)
			}
		}},
		{"/api/admin/config/video/streamoutputvariants", `{"value":[{"cpuUsageLevel":7}]}`, 400, nil},
		{"/api/admin/config/video/streamoutputvariants", `{"value":[]}`, 400, nil},
		{"/api/admin/config/s3", `{"value":{"enabled":true,"endpoint":"","bucket":"b"}}`, 400, nil},
		{"/api/admin/config/s3", `{"value":{"enabled":false}}`, 200, nil},
		{"/api/admin/config/ffmpegpath", `{"value":"relative/ffmpeg"}`, 400, nil},
		{"/api/admin/config/ffmpegpath", `{"value":"/bin/sh"}`, 400, nil},
		// The listener's port is set at start (--rtmp-addr): a port it is
		// not on is refused, not stored with no effect.
		{"/api/admin/config/rtmpserverport", `{"value":1935}`, 200, nil},
		{"/api/admin/config/rtmpserverport", `{"value":1936}`, 400, func(t *testing.T) {
			if n.live.IngestPort() != 1935 {
				t.Fatal("the listener's port changed")
			}
		}},
		{"/api/admin/config/rtmpserverport", `{"value":70000}`, 400, nil},
		{"/api/admin/config/videoservingendpoint", `{"value":"https://cdn.example.com"}`, 200, nil},
		{"/api/admin/config/videoservingendpoint", `{"value":"javascript:alert(1)"}`, 400, nil},
		{"/api/admin/disconnect", ``, 400, nil}, // nothing is live
	}
	for _, tc := range cases {
		code, body := n.post(t, tc.path, tc.body)
		if code != tc.code {
			t.Fatalf("%s %s: got %d %v, want %d", tc.path, tc.body, code, body, tc.code)
		}
		if ok, _ := body["success"].(bool); ok != (tc.code == 200) {
			t.Fatalf("%s %s: success=%v", tc.path, tc.body, body["success"])
		}
		if tc.check != nil {
			tc.check(t)
		}
	}

	// The new keys work at the RTMP door; the old one no longer does.
	for key, ok := range map[string]bool{"k2": true, "abc123": false} {
		c, err := rtmp.Dial(ctx, n.rtmp)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Publish("live", key)
		c.Close()
		if (err == nil) != ok {
			t.Fatalf("key %s: %v", key, err)
		}
		if ok {
			n.live.WaitOffline(n.stage, 10*time.Second)
		}
	}

	// Public variants list: passthrough first, Owncast's names.
	code, _, body := n.get(t, "/api/video/variants", false)
	var vs []map[string]any
	if err := json.Unmarshal(body, &vs); err != nil || code != 200 || len(vs) != 2 || vs[0]["name"] != "Source" || vs[1]["name"] != "480h" {
		t.Fatalf("variants: %d %s", code, body)
	}
	for _, p := range []string{"/api/admin/viewers", "/api/admin/hardwarestats", "/api/admin/viewersOverTime?windowStart=0", "/api/admin/prometheus"} {
		if code, _, body := n.get(t, p, true); code != 200 {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	if code, _, _ := n.get(t, "/api/admin/viewersOverTime?windowStart=x", true); code != 400 {
		t.Fatalf("bad windowStart: %d", code)
	}
	_, _, prom := n.get(t, "/api/admin/prometheus", true)
	if !strings.Contains(string(prom), "owncast_instance_active_viewer_count{") {
		t.Fatalf("prometheus: %s", prom)
	}
	// The node's own metrics (Go runtime, as Owncast's endpoint also has)
	// come with the instance gauges.
	if !strings.Contains(string(prom), "go_goroutines ") {
		t.Fatalf("prometheus without the node's metrics: %s", prom)
	}
	if code, _, _ := n.get(t, "/api/ping", false); code != 200 {
		t.Fatal("ping")
	}
	if v, _ := n.live.Viewers(n.stage); len(v) == 0 {
		t.Fatal("ping did not count a viewer")
	}
	if code, _, _ := n.get(t, "/thumbnail.jpg", false); code != 404 {
		t.Fatal("thumbnail before any stream")
	}
}

// TestLiveAdminDisconnect drops a live publisher through the admin API.
func TestLiveAdminDisconnect(t *testing.T) {
	t.Parallel()
	n := newLiveNode(t, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}, 2)
	c, err := rtmp.Dial(context.Background(), n.rtmp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Publish("live", "abc123"); err != nil {
		t.Fatal(err)
	}
	if n.status(t)["online"] != true {
		t.Fatal("not online after publish")
	}
	if code, body := n.post(t, "/api/admin/disconnect", ""); code != 200 || body["success"] != true {
		t.Fatalf("disconnect: %d %v", code, body)
	}
	if !n.live.WaitOffline(n.stage, 10*time.Second) || n.status(t)["online"] != false {
		t.Fatal("still online after disconnect")
	}
	// The dropped connection is really closed: writes soon fail.
	for i := 0; ; i++ {
		if err := c.WriteMedia(rtmp.TypeVideo, uint32(i), make([]byte, 64<<10)); err != nil {
			break
		}
		if i == 100 {
			t.Fatal("publisher connection still open")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
