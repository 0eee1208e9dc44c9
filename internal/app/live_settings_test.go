package app_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/rtmp"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestVideoSettingsReachEveryNode: on PostgreSQL + NATS, the instance-wide
// video settings an admin sets through one node's Owncast admin API (the
// video serving endpoint, S3) hold on the other node too: its serverconfig
// shows them, a broadcast published to it names the serving endpoint in
// its master playlist, and it offloads to the bucket. They used to be read
// once at start, so the other node went on without them until a restart.
func TestVideoSettingsReachEveryNode(t *testing.T) {
	t.Parallel()
	if storetest.PostgresURL() == "" || natsURL() == "" {
		t.Skip("needs HEARTH_TEST_POSTGRES_URL and HEARTH_TEST_NATS_URL")
	}
	dsn := storetest.PostgresDSN(t)
	keyB := "node-b-" + identity.NewID()
	a := clusterNode(t, dsn, nil)
	b := clusterNode(t, dsn, func(cfg *config.Config) {
		cfg.RTMPAddr, cfg.StreamKey = "127.0.0.1:0", keyB
	})
	serverConfigOf := func() map[string]any {
		var m map[string]any
		code, body := owncastAdmin(t, b.HTTP.URL(), "GET", "/api/admin/serverconfig", nil)
		if code != 200 || json.Unmarshal(body, &m) != nil {
			t.Fatalf("serverconfig of node B: %d %s", code, body)
		}
		return m
	}

	if code, body := owncastAdmin(t, a.HTTP.URL(), "POST", "/api/admin/config/videoservingendpoint",
		map[string]any{"value": "https://cdn.example.com"}); code != 200 {
		t.Fatalf("videoservingendpoint on node A: %d %s", code, body)
	}
	poll(t, "node B to have node A's video serving endpoint", 10*time.Second, func() bool {
		return serverConfigOf()["videoServingEndpoint"] == "https://cdn.example.com"
	})
	c, err := rtmp.Dial(t.Context(), b.RTMPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Publish("live", keyB); err != nil {
		t.Fatal(err)
	}
	_, _, master := get(t, b.HTTP.URL()+"/hls/stream.m3u8")
	if !strings.Contains(string(master), "\nhttps://cdn.example.com/hls/0/stream.m3u8\n") {
		t.Fatalf("master playlist of a broadcast on node B:\n%s", master)
	}

	backend := s3mem.New()
	if err := backend.CreateBucket("media"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3srv.Close)
	if code, body := owncastAdmin(t, a.HTTP.URL(), "POST", "/api/admin/config/s3", map[string]any{"value": map[string]any{
		"enabled": true, "endpoint": s3srv.URL, "accessKey": "k", "secret": "s", "bucket": "media", "region": "us-east-1",
		"forcePathStyle": true}}); code != 200 {
		t.Fatalf("s3 on node A: %d %s", code, body)
	}
	poll(t, "node B to offload to node A's bucket", 10*time.Second, func() bool {
		s3, _ := serverConfigOf()["s3"].(map[string]any)
		return s3["enabled"] == true && s3["bucket"] == "media" && b.Live.Uploader() != nil
	})
}
