package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/rtmp"
)

// publishTo runs ffmpeg publishing a small test stream to url until the
// test ends.
func publishTo(t *testing.T, url string) {
	t.Helper()
	pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-t", "120", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "32k", "-f", "flv", url)
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = pub.Wait(); close(exited) }()
	t.Cleanup(func() { _ = pub.Process.Kill(); <-exited })
}

// liveSegment is the first media segment a playlist lists ("" if none).
func liveSegment(pl string) string {
	for _, l := range strings.Split(pl, "\n") {
		if strings.HasSuffix(l, ".ts") && l != hls.OfflineName {
			return l
		}
	}
	return ""
}

// adminStatusOf reads a node's Owncast /api/admin/status into the fields
// of T a test looks at.
func adminStatusOf[T any](t *testing.T, base string) T {
	t.Helper()
	var st T
	code, body := owncastAdmin(t, base, "GET", "/api/admin/status", nil)
	if code != 200 || json.Unmarshal(body, &st) != nil {
		t.Fatalf("admin status of %s: %d %s", base, code, body)
	}
	return st
}

// TestLiveHLSOnAnotherNode: on PostgreSQL + NATS without S3, a stream
// published to node A plays through node B: B's master playlist, variant
// playlist and segments are A's (not B's offline clip), LL-HLS parts and
// blocking reloads pass through, with the local HLS headers; the viewer is
// counted once, by B. A live clip asked of B is cut by A. A community
// stage channel's signed HLS URL plays
// through B too, with B checking the viewer. A's peer route refuses
// requests that are not signed with the cluster's key.
func TestLiveHLSOnAnotherNode(t *testing.T) {
	t.Parallel()
	a, b, streamKey := twoLiveNodes(t, nil)
	baseA, baseB := a.HTTP.URL(), b.HTTP.URL()
	ctx := t.Context()
	def := a.Live.DefaultStageID()
	if err := a.Live.SetLatencyLevel(ctx, def, 5); err != nil { // LL-HLS
		t.Fatal(err)
	}
	publishTo(t, "rtmp://"+a.RTMPAddr().String()+"/live/"+streamKey)

	origin, err := a.Live.Origin(def)
	if err != nil {
		t.Fatal(err)
	}
	variantA := func() *hls.Variant {
		v, ok := origin.Variant(0)
		if !ok {
			t.Fatal("no variant 0 on node A")
		}
		return v
	}
	poll(t, "segments on node A, and node B seeing the stream online", 30*time.Second, func() bool {
		st, err := b.Live.Status(ctx, def)
		return err == nil && st.Online && liveSegment(string(variantA().Playlist())) != ""
	})

	// The variant playlist through B is A's live one.
	code, hdr, body := get(t, baseB+"/hls/0/stream.m3u8")
	pl := string(body)
	seg := liveSegment(pl)
	if code != 200 || seg == "" || strings.Contains(pl, "#EXT-X-ENDLIST") || !strings.Contains(pl, "#EXT-X-PART:") ||
		hdr.Get("Content-Type") != hls.PlaylistContentType || hdr.Get("Cache-Control") != hls.PlaylistCache ||
		hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("variant playlist through node B: %d %v\n%s", code, hdr, pl)
	}
	// A segment through B has A's bytes.
	code, hdr, body = get(t, baseB+"/hls/0/"+seg)
	path, ok := variantA().SegmentPath(seg)
	if !ok {
		t.Fatalf("node A no longer lists %s", seg)
	}
	onA, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if code != 200 || !bytes.Equal(body, onA) || hdr.Get("Content-Type") != hls.SegmentContentType ||
		hdr.Get("Cache-Control") != hls.SegmentCache {
		t.Fatalf("segment %s through node B: %d %v, %d bytes (%d on node A)", seg, code, hdr, len(body), len(onA))
	}
	// The master playlist through B is A's (which changes as A measures
	// its segments: read until two reads agree).
	var master string
	poll(t, "node B's master playlist to be node A's", 10*time.Second, func() bool {
		_, _, body := get(t, baseB+"/hls/stream.m3u8")
		master = string(body)
		return master == string(origin.Master())
	})
	if !strings.Contains(master, "CODECS=") {
		t.Fatalf("master playlist through node B:\n%s", master)
	}
	// LL-HLS: a listed part, and a blocking reload for the next segment,
	// answered by A once it is listed.
	part := regexp.MustCompile(`#EXT-X-PART:[^\n]*URI="([^"]+)"`).FindAllStringSubmatch(pl, -1)
	if len(part) == 0 {
		t.Fatalf("no parts:\n%s", pl)
	}
	if code, hdr, body := get(t, baseB+"/hls/0/"+part[len(part)-1][1]); code != 200 && code != 404 ||
		code == 200 && (len(body) == 0 || len(body)%188 != 0 || hdr.Get("Content-Type") != hls.SegmentContentType) {
		// A part older than the parts kept in memory is 404 on A too.
		t.Fatalf("part through node B: %d %v, %d bytes", code, hdr, len(body))
	}
	msn, _ := strconv.Atoi(regexp.MustCompile(`#EXT-X-MEDIA-SEQUENCE:(\d+)`).FindStringSubmatch(pl)[1])
	next := msn + strings.Count(pl, "#EXTINF")
	code, _, body = get(t, baseB+"/hls/0/stream.m3u8?_HLS_msn="+strconv.Itoa(next)+"&_HLS_part=0")
	if code != 200 || !strings.Contains(string(body), "-"+strconv.Itoa(next)+".0.ts") {
		t.Fatalf("blocking reload for %d.0 through node B: %d\n%s", next, code, body)
	}
	if code, _, _ := get(t, baseB+"/hls/0/stream.m3u8?_HLS_msn="+strconv.Itoa(next+100)); code != 400 {
		t.Fatalf("blocking reload too far ahead through node B: %d, want 400", code)
	}
	// The thumbnail is the one A made (B made none).
	poll(t, "node A's thumbnail through node B", 30*time.Second, func() bool {
		p, ok := a.Live.Thumbnail(def, "thumbnail.jpg")
		if !ok {
			return false
		}
		onA, err := os.ReadFile(p)
		code, hdr, body := get(t, baseB+"/thumbnail.jpg")
		return err == nil && code == 200 && hdr.Get("Content-Type") == "image/jpeg" && bytes.Equal(body, onA)
	})
	// The viewer is counted by the node it talks to, and only there.
	if vs, _ := a.Live.Viewers(def); len(vs) != 0 {
		t.Fatalf("node A counted the viewer of node B: %+v", vs)
	}
	if vs, _ := b.Live.Viewers(def); len(vs) != 1 {
		t.Fatalf("node B's viewers: %+v", vs)
	}

	// A clip of the live stream asked of B is cut by A, which runs the
	// ingest (B has no segments of it: it was 400, "no stream is live").
	clipper := register(t, baseA, "clipper")
	var clip struct{ ID, URL string }
	if code := call(t, "POST", baseB+"/api/clips", clipper.AccessToken, map[string]any{"stage": "default", "seconds": 2, "title": "live via B"}, &clip); code != 201 || clip.URL == "" {
		t.Fatalf("a live clip asked of node B: %d %+v", code, clip)
	}
	if !a.Recordings.HasLocalClip(clip.ID) || b.Recordings.HasLocalClip(clip.ID) {
		t.Fatalf("the live clip asked of node B is not on node A alone")
	}
	if code := call(t, "GET", baseB+"/api/clips/"+clip.ID, clipper.AccessToken, nil, nil); code != 200 {
		t.Fatalf("the live clip through node B: %d", code)
	}

	// A stage channel: its member's signed URL, made by B, plays through B;
	// someone who may not view the channel gets no URL there.
	alice, bob, eve := register(t, baseA, "alice"), register(t, baseA, "bob"), register(t, baseA, "eve")
	sid := newServer(t, baseA, alice.AccessToken)
	if code := call(t, "POST", baseA+"/servers/"+sid+"/join", bob.AccessToken, nil, nil); code != 200 && code != 201 {
		t.Fatalf("join: %d", code)
	}
	var ch struct{ ID string }
	if code := call(t, "POST", baseA+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "Concerts", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("create stage channel: %d", code)
	}
	var key struct{ RTMPURL, StreamKey string }
	if code := call(t, "GET", baseA+"/api/stages/"+ch.ID+"/key", alice.AccessToken, nil, &key); code != 200 {
		t.Fatalf("key: %d", code)
	}
	if err := a.Live.SetVariants(ctx, ch.ID, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	publishTo(t, key.RTMPURL+"/"+key.StreamKey)
	var st stageStatus
	poll(t, "the stage channel online on node B", 30*time.Second, func() bool {
		return call(t, "GET", baseB+"/api/stages/"+ch.ID+"/status", bob.AccessToken, nil, &st) == 200 && st.Online
	})
	if code := call(t, "GET", baseB+"/api/stages/"+ch.ID+"/status", eve.AccessToken, nil, nil); code != 404 {
		t.Fatalf("an outsider's status on node B: %d", code)
	}
	hlsB := baseB + strings.TrimSuffix(st.HLSURL, "stream.m3u8")
	poll(t, "a segment of the stage channel through node B", 30*time.Second, func() bool {
		code, _, body := get(t, hlsB+"0/stream.m3u8")
		seg = liveSegment(string(body))
		return code == 200 && seg != ""
	})
	if code, _, body := get(t, hlsB+"stream.m3u8"); code != 200 || !strings.Contains(string(body), "CODECS=") {
		t.Fatalf("stage channel master through node B: %d\n%s", code, body)
	}
	if code, hdr, body := get(t, hlsB+"0/"+seg); code != 200 || hdr.Get("Content-Type") != hls.SegmentContentType || len(body) == 0 || body[0] != 0x47 {
		t.Fatalf("stage channel segment through node B: %d %v", code, hdr)
	}
	token := strings.Split(st.HLSURL, "/")[4]
	if code, _, _ := get(t, baseB+"/stages/"+ch.ID+"/hls/"+token[:len(token)-2]+"AA/0/"+seg); code != 403 {
		t.Fatalf("a forged stage token on node B: %d", code)
	}

	// The peer route is the nodes' own: unsigned, forged or expired
	// requests are refused.
	for _, q := range []string{"", "?exp=9999999999&sig=00", "?exp=1&sig=00"} {
		for _, name := range []string{"stream.m3u8", "0/stream.m3u8", "0/" + seg} {
			if code, _, _ := get(t, baseA+"/hls/peer/"+def+"/"+name+q); code != 403 {
				t.Fatalf("peer route %s%s: %d", name, q, code)
			}
		}
	}
}

// TestDisconnectFromAnotherNode: the admin's disconnect
// (/api/admin/disconnect) asked of a node that does not run the broadcast
// answered 400 "no inbound stream connected" while every node reported
// the stage live, so behind a load balancer the admin could not drop a
// publisher. The node asked passes it on to the node running the
// broadcast, which drops it.
func TestDisconnectFromAnotherNode(t *testing.T) {
	t.Parallel()
	a, b, streamKey := twoLiveNodes(t, nil)
	ctx := t.Context()
	def := a.Live.DefaultStageID()
	publishTo(t, "rtmp://"+a.RTMPAddr().String()+"/live/"+streamKey)
	poll(t, "node B seeing the stream online", 30*time.Second, func() bool {
		st, err := b.Live.Status(ctx, def)
		return err == nil && st.Online
	})
	if code, body := owncastAdmin(t, b.HTTP.URL(), "POST", "/api/admin/disconnect", nil); code != 200 {
		t.Fatalf("disconnect through node B: %d %s", code, body)
	}
	if !a.Live.WaitOffline(def, hangGuard) {
		t.Fatal("node A's broadcast did not end")
	}
	poll(t, "node B seeing the stream offline", 30*time.Second, func() bool {
		st, err := b.Live.Status(ctx, def)
		return err == nil && !st.Online
	})
	if code, _ := owncastAdmin(t, b.HTTP.URL(), "POST", "/api/admin/disconnect", nil); code != 400 {
		t.Fatalf("disconnect with nothing live: %d", code)
	}
}

// TestAdminStatusFromAnotherNode: Owncast's /api/admin/status asked of a
// node that does not run the broadcast answers the same broadcaster,
// stream details and output settings as the node running it (it asks that
// node through the signed peer route). Before, it said online with every
// detail null, so the admin UI behind a load balancer showed a live
// stream with no broadcaster.
func TestAdminStatusFromAnotherNode(t *testing.T) {
	t.Parallel()
	a, b, streamKey := twoLiveNodes(t, nil)
	publishTo(t, "rtmp://"+a.RTMPAddr().String()+"/live/"+streamKey)
	type adminStatus struct {
		Online      bool
		Broadcaster *struct {
			RemoteAddr    string
			Time          time.Time
			StreamDetails struct {
				Width, Height          int
				VideoCodec, AudioCodec string
			}
		}
		CurrentBroadcast *struct {
			OutputSettings []map[string]any
			LatencyLevel   struct{ Level int }
		}
	}
	status := func(base string) adminStatus { t.Helper(); return adminStatusOf[adminStatus](t, base) }
	var onA adminStatus
	poll(t, "node A knowing the stream's details", 30*time.Second, func() bool {
		onA = status(a.HTTP.URL())
		return onA.Broadcaster != nil && onA.Broadcaster.StreamDetails.VideoCodec != "" && onA.Broadcaster.StreamDetails.AudioCodec != ""
	})
	poll(t, "node B seeing the stream online", 30*time.Second, func() bool { return status(b.HTTP.URL()).Online })
	onB := status(b.HTTP.URL())
	if onB.Broadcaster == nil || onB.CurrentBroadcast == nil || onA.CurrentBroadcast == nil {
		t.Fatalf("node B's admin status has no broadcast details: %+v", onB)
	}
	if *onB.Broadcaster != *onA.Broadcaster {
		t.Errorf("broadcaster on node B = %+v, on node A %+v", *onB.Broadcaster, *onA.Broadcaster)
	}
	if len(onB.CurrentBroadcast.OutputSettings) != len(onA.CurrentBroadcast.OutputSettings) || len(onB.CurrentBroadcast.OutputSettings) == 0 ||
		onB.CurrentBroadcast.LatencyLevel != onA.CurrentBroadcast.LatencyLevel {
		t.Errorf("current broadcast on node B = %+v, on node A %+v", *onB.CurrentBroadcast, *onA.CurrentBroadcast)
	}
}

// TestPublishRaceOnTwoNodes: two encoders publishing one stage to two nodes
// (PostgreSQL + NATS) at the same instant. Before the stage's publish lease,
// each node asked only the presence counts, which the other node's
// broadcast reaches a batch later, so both publishes started: two
// broadcasts of one stage, each starting, ending and recording it. Now
// exactly one starts, round after round, and the other is refused as a
// second publisher.
func TestPublishRaceOnTwoNodes(t *testing.T) {
	t.Parallel()
	a, b, _ := twoLiveNodes(t, nil)
	ctx := t.Context()
	def := a.Live.DefaultStageID()
	key := "race-" + identity.NewID()
	if err := a.Live.SetStreamKeys(ctx, def, []live.StreamKey{{Key: key}}); err != nil {
		t.Fatal(err)
	}
	offline := func() bool {
		for _, n := range []*app.App{a, b} {
			if st, err := n.Live.Status(ctx, def); err != nil || st.Online {
				return false
			}
		}
		return true
	}
	for round := range 5 {
		poll(t, "both nodes seeing the stage offline", 30*time.Second, offline)
		var wg sync.WaitGroup
		start := make(chan struct{})
		streams := make([]rtmp.Stream, 2)
		errs := make([]error, 2)
		for i, n := range []*app.App{a, b} {
			wg.Go(func() {
				<-start
				streams[i], errs[i] = n.Live.Publish(ctx, rtmp.PublishRequest{App: "live", Name: key, RemoteAddr: "127.0.0.1:" + strconv.Itoa(1000+i)})
			})
		}
		close(start)
		wg.Wait()
		started := 0
		for i, s := range streams {
			if errs[i] != nil {
				if k := fault.KindOf(errs[i]); k != fault.Conflict {
					t.Errorf("round %d: node %d refused with %v (%v), want Conflict", round, i, errs[i], k)
				}
				continue
			}
			started++
			s.Close(nil)
		}
		for _, n := range []*app.App{a, b} {
			if !n.Live.WaitOffline(def, hangGuard) {
				t.Fatalf("round %d: a broadcast did not end", round)
			}
		}
		if started != 1 {
			t.Fatalf("round %d: %d of two racing publishes started", round, started)
		}
	}
}

// TestPeakViewersAcrossNodes: a stream published to node A watched only
// through node B has its viewers in both nodes' session and all-time
// peaks. Before, the peaks rose only with a viewer arriving on the node
// running the broadcast, so Owncast's admin showed viewerCount 1 with
// sessionPeakViewerCount and overallPeakViewerCount 0 on every node.
func TestPeakViewersAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b, streamKey := twoLiveNodes(t, nil)
	publishTo(t, "rtmp://"+a.RTMPAddr().String()+"/live/"+streamKey)
	type adminStatus struct {
		Online                 bool
		ViewerCount            int
		SessionPeakViewerCount int
		OverallPeakViewerCount int
	}
	status := func(base string) adminStatus { t.Helper(); return adminStatusOf[adminStatus](t, base) }
	poll(t, "node B seeing the stream online", 30*time.Second, func() bool { return status(b.HTTP.URL()).Online })
	for _, agent := range []string{"viewer-one", "viewer-two"} {
		req, _ := http.NewRequest("GET", b.HTTP.URL()+"/api/ping", nil)
		req.Header.Set("User-Agent", agent)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	for _, base := range []string{a.HTTP.URL(), b.HTTP.URL()} {
		var st adminStatus
		poll(t, "two viewers counted on "+base, 30*time.Second, func() bool { st = status(base); return st.ViewerCount == 2 })
		if st.SessionPeakViewerCount < 2 || st.OverallPeakViewerCount < 2 {
			t.Errorf("%s: viewerCount %d with sessionPeakViewerCount %d, overallPeakViewerCount %d; want peaks of at least 2",
				base, st.ViewerCount, st.SessionPeakViewerCount, st.OverallPeakViewerCount)
		}
	}
}
