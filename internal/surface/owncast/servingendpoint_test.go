package owncast_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/rtmp"
)

// masterVariantURIs are the variant URIs a master playlist lists.
func masterVariantURIs(pl string) []string {
	var out []string
	for _, l := range strings.Split(pl, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// publishKey publishes to the node's default stage with the test key and
// keeps the connection until the test ends (no media needed: the
// broadcast's variants, and so the master playlist, exist from the
// publish on).
func publishKey(t *testing.T, n *liveNode) {
	t.Helper()
	c, err := rtmp.Dial(context.Background(), n.rtmp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Publish("live", "abc123"); err != nil {
		t.Fatal(err)
	}
}

// TestVideoServingEndpointWithoutS3: config/videoservingendpoint puts a
// CDN in front of the node's own HLS, as Owncast's local storage does: the
// master playlist names its variants under the endpoint
// (<endpoint>/hls/<n>/stream.m3u8) while it is set, and relative again
// once it is cleared. It used to be stored and shown in serverconfig with
// no effect unless S3 was on.
func TestVideoServingEndpointWithoutS3(t *testing.T) {
	t.Parallel()
	n := newLiveNode(t, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}, 2)
	if code, body := n.post(t, "/api/admin/config/videoservingendpoint", `{"value":"https://cdn.example.com/"}`); code != 200 {
		t.Fatalf("videoservingendpoint: %d %v", code, body)
	}
	publishKey(t, n)
	_, _, master := n.get(t, "/hls/stream.m3u8", false)
	if got := masterVariantURIs(string(master)); len(got) != 1 || got[0] != "https://cdn.example.com/hls/0/stream.m3u8" {
		t.Fatalf("master playlist with a video serving endpoint:\n%s", master)
	}
	// Cleared, the variants are the node's own again (at once).
	if code, body := n.post(t, "/api/admin/config/videoservingendpoint", `{"value":""}`); code != 200 {
		t.Fatalf("clear videoservingendpoint: %d %v", code, body)
	}
	_, _, master = n.get(t, "/hls/stream.m3u8", false)
	if got := masterVariantURIs(string(master)); len(got) != 1 || got[0] != "0/stream.m3u8" {
		t.Fatalf("master playlist without a video serving endpoint:\n%s", master)
	}
}

// TestVideoServingEndpointWithS3: with S3 on and no servingEndpoint of its
// own, the next broadcast's master playlist names the bucket's objects
// under videoservingendpoint, also when it is set after S3 (it used to
// count only when S3's own settings changed after it, or at a restart).
func TestVideoServingEndpointWithS3(t *testing.T) {
	t.Parallel()
	n := newLiveNode(t, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}, 2)
	backend := s3mem.New()
	if err := backend.CreateBucket("media"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3srv.Close)
	if code, body := n.post(t, "/api/admin/config/s3", `{"value":{"enabled":true,"endpoint":"`+s3srv.URL+`","accessKey":"k","secret":"s",`+
		`"bucket":"media","region":"us-east-1","pathPrefix":"live","forcePathStyle":true}}`); code != 200 {
		t.Fatalf("s3 setting: %d %v", code, body)
	}
	if code, body := n.post(t, "/api/admin/config/videoservingendpoint", `{"value":"https://cdn.example.com"}`); code != 200 {
		t.Fatalf("videoservingendpoint: %d %v", code, body)
	}
	publishKey(t, n)
	_, _, master := n.get(t, "/hls/stream.m3u8", false)
	if got := masterVariantURIs(string(master)); len(got) != 1 || got[0] != "https://cdn.example.com/live/hls/0/stream.m3u8" {
		t.Fatalf("master playlist with S3 and a video serving endpoint:\n%s", master)
	}
}
