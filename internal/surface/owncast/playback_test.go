package owncast_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/live"
)

// report posts a player's playback metrics as the given browser.
func (n *liveNode) report(t *testing.T, ua, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", n.url+"/api/metrics/playback", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (n *liveNode) ping(t *testing.T, ua string) {
	t.Helper()
	req, _ := http.NewRequest("GET", n.url+"/api/ping", nil)
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestPlaybackReportInput(t *testing.T) {
	t.Parallel()
	n := newLiveNode(t, nil, 2)
	cases := []struct {
		name, body string
		code       int
	}{
		{"the 0.1.3 player's report", `{"bandwidth":2500.123,"latency":6.2,"downloadDuration":0.41,"errors":0,"qualityVariantChanges":1}`, 200},
		{"a player without detailed metrics", `{"errors":2}`, 200},
		{"NaN averages arrive as null", `{"bandwidth":null,"latency":null,"downloadDuration":null,"errors":0,"qualityVariantChanges":0}`, 200},
		{"unknown fields are ignored", `{"errors":0,"extra":"x"}`, 200},
		{"not JSON", `bandwidth=1`, 400},
		{"empty body", ``, 400},
		{"an array", `[1,2]`, 400},
		{"a string number", `{"bandwidth":"fast"}`, 400},
		{"a boolean", `{"errors":true}`, 400},
		{"negative", `{"latency":-4}`, 400},
		{"too large", `{"x":"` + strings.Repeat("a", 5000) + `"}`, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			code, body := n.report(t, "player-"+c.name, c.body)
			if code != c.code {
				t.Fatalf("%s: %d %s, want %d", c.body, code, body, c.code)
			}
			if code == 200 {
				if body != "" {
					t.Fatalf("body %q, want empty", body)
				}
				return
			}
			var res struct {
				Success *bool  `json:"success"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(body), &res); err != nil || res.Success == nil || *res.Success || res.Message == "" {
				t.Fatalf("error body %q is not Owncast's {success:false, message}", body)
			}
		})
	}
}

func TestVideoMetricsSeries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newLiveNode(t, []live.Variant{{VideoBitrate: 2500, Framerate: 30}, {VideoBitrate: 600, Framerate: 30}}, 1)
	if code, _, _ := n.get(t, "/api/admin/metrics/video", false); code != 401 {
		t.Fatalf("without credentials: %d", code)
	}
	for _, ua := range []string{"A", "B", "C", "D"} {
		n.ping(t, ua)
	}
	for ua, body := range map[string]string{
		"A": `{"bandwidth":3000.4,"latency":5,"downloadDuration":0.5,"errors":1,"qualityVariantChanges":2}`,
		"B": `{"bandwidth":700,"latency":8,"downloadDuration":1.5,"errors":0,"qualityVariantChanges":0}`,
		"C": `{"errors":4}`,
	} {
		if code, b := n.report(t, ua, body); code != 200 {
			t.Fatalf("report %s: %d %s", ua, code, b)
		}
	}
	type sample struct {
		Time  time.Time `json:"time"`
		Value float64   `json:"value"`
	}
	var got struct {
		Errors                []sample `json:"errors"`
		QualityVariantChanges []sample `json:"qualityVariantChanges"`
		HighestLatency        []sample `json:"highestLatency"`
		MedianLatency         []sample `json:"medianLatency"`
		LowestLatency         []sample `json:"lowestLatency"`
		MinDownload           []sample `json:"minimumSegmentDownloadDuration"`
		MedianDownload        []sample `json:"medianSegmentDownloadDuration"`
		MaxDownload           []sample `json:"maximumSegmentDownloadDuration"`
		MinBitrate            []sample `json:"minPlayerBitrate"`
		MedianBitrate         []sample `json:"medianPlayerBitrate"`
		MaxBitrate            []sample `json:"maxPlayerBitrate"`
		AvailableBitrates     []int    `json:"availableBitrates"`
		SegmentLength         *int     `json:"segmentLength"`
		Representation        *int     `json:"representation"`
	}
	load := func() {
		t.Helper()
		code, _, body := n.get(t, "/api/admin/metrics/video", true)
		if code != 200 {
			t.Fatalf("metrics/video: %d %s", code, body)
		}
		got.Errors = nil
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Errors == nil || got.SegmentLength == nil || got.Representation == nil {
			t.Fatalf("missing keys: %s", body)
		}
	}
	load()
	if len(got.Errors) != 0 || *got.Representation != 50 || *got.SegmentLength != 2 ||
		len(got.AvailableBitrates) != 2 || got.AvailableBitrates[0] != 2500 || got.AvailableBitrates[1] != 600 {
		t.Fatalf("before the first window closes: %+v", got)
	}

	n.live.CollectPlayback(ctx)
	load()
	cases := []struct {
		name   string
		series []sample
		want   float64
	}{
		{"errors", got.Errors, 5},
		{"qualityVariantChanges", got.QualityVariantChanges, 2},
		{"highestLatency", got.HighestLatency, 8},
		{"medianLatency", got.MedianLatency, 6.5},
		{"lowestLatency", got.LowestLatency, 5},
		{"minimumSegmentDownloadDuration", got.MinDownload, 0.5},
		{"medianSegmentDownloadDuration", got.MedianDownload, 1},
		{"maximumSegmentDownloadDuration", got.MaxDownload, 1.5},
		{"minPlayerBitrate", got.MinBitrate, 700},
		{"medianPlayerBitrate", got.MedianBitrate, 1850},
		{"maxPlayerBitrate", got.MaxBitrate, 3000},
	}
	for _, c := range cases {
		if len(c.series) != 1 || c.series[0].Value != c.want || c.series[0].Time.IsZero() {
			t.Errorf("%s: %+v, want one sample of %v", c.name, c.series, c.want)
		}
	}
	if *got.Representation != 0 {
		t.Fatalf("representation of the new, empty window: %d", *got.Representation)
	}

	// The Prometheus gauge has the last window's error count.
	code, _, prom := n.get(t, "/api/admin/prometheus", true)
	found := false
	for _, line := range strings.Split(string(prom), "\n") {
		if strings.HasPrefix(line, "owncast_instance_playback_error_count{") {
			found = strings.HasSuffix(line, "} 5")
		}
	}
	if code != 200 || !found {
		t.Fatalf("prometheus: %d\n%s", code, prom)
	}
}

// TestStreamHealthWhileLive publishes a stream, has three players report
// (one with errors) and checks the admin status's health overview.
func TestStreamHealthWhileLive(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	ctx := context.Background()
	n := newLiveNode(t, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}, 2)
	health := func() json.RawMessage {
		t.Helper()
		code, _, body := n.get(t, "/api/admin/status", true)
		if code != 200 {
			t.Fatalf("admin status: %d", code)
		}
		var st struct {
			Online bool            `json:"online"`
			Health json.RawMessage `json:"health"`
		}
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		return st.Health
	}
	if h := string(health()); h != "null" {
		t.Fatalf("offline health: %s", h)
	}
	publish(t, "rtmp://"+n.rtmp+"/live/abc123", 30)
	eventually(t, 20*time.Second, "online", func() bool { return n.status(t)["online"] == true })

	// Live, but no window has closed yet: no overview (as in Owncast's first 2 minutes).
	if h := string(health()); h != "null" {
		t.Fatalf("health before any window closed: %s", h)
	}
	for ua, body := range map[string]string{
		"P1": `{"bandwidth":4000,"latency":7,"downloadDuration":0.3,"errors":3,"qualityVariantChanges":0}`,
		"P2": `{"bandwidth":5000,"latency":6,"downloadDuration":0.2,"errors":0,"qualityVariantChanges":0}`,
		"P3": `{"bandwidth":4500,"latency":6,"downloadDuration":0.2,"errors":0,"qualityVariantChanges":0}`,
	} {
		n.ping(t, ua)
		if code, b := n.report(t, ua, body); code != 200 {
			t.Fatalf("report: %d %s", code, b)
		}
	}
	n.live.CollectPlayback(ctx)
	var h struct {
		Healthy          bool   `json:"healthy"`
		HealthPercentage int    `json:"healthPercentage"`
		Message          string `json:"message"`
		Representation   int    `json:"representation"`
	}
	raw := health()
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("health %s: %v", raw, err)
	}
	want := "1 of 3 viewers (33%) are experiencing errors. You're currently using a video passthrough output, " +
		"often known for causing playback issues for people. It is suggested you turn it off."
	if h.Healthy || h.HealthPercentage != 67 || h.Message != want || h.Representation != 100 {
		t.Fatalf("health %s", raw)
	}

	// The next window has only clean reports: healthy again.
	for _, ua := range []string{"P1", "P2"} {
		if code, b := n.report(t, ua, `{"bandwidth":4000,"errors":0}`); code != 200 {
			t.Fatalf("report: %d %s", code, b)
		}
	}
	n.live.CollectPlayback(ctx)
	raw = health()
	if err := json.Unmarshal(raw, &h); err != nil || !h.Healthy || h.HealthPercentage != 100 || h.Message != "" {
		t.Fatalf("health after a clean window: %s", raw)
	}
}

// cmcd sends a CMCD report as the given browser.
func (n *liveNode) cmcd(t *testing.T, method, ua, query, body string, hdr ...string) (int, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, n.url+"/api/metrics/cmcd"+query, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// TestCMCDReports: the upstream suite's CMCD cases (single report, batch,
// query form, preflight, malformed, empty), then CMCD reports feed the same
// video-health series as the 0.1.3 player's reports.
func TestCMCDReports(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newLiveNode(t, nil, 2)
	q := "?CMCD=" + url.QueryEscape(`e=t,ltc=2900,mtp=4800,sid="api,test"`)
	cases := []struct {
		name, method, query, body string
		code                      int
	}{
		{"single event report", "POST", "", `{"v":2,"e":"ps","ts":1700000000000,"sta":"p","ltc":3200,"mtp":5100,"sid":"s","sn":1}`, 200},
		{"batched array", "POST", "", `[{"v":2,"e":"t","mtp":5100,"sid":"s","sn":2},{"v":2,"e":"ps","sta":"w","bs":true,"sid":"s","sn":3}]`, 200},
		{"query parameter", "GET", q, "", 200},
		{"malformed json", "POST", "", `{not json`, 400},
		{"no report (GET)", "GET", "", "", 400},
		{"no report (empty object)", "POST", "", `{}`, 400},
		{"a string measure", "POST", "", `{"mtp":"fast"}`, 400},
		{"negative measure", "POST", "", `{"ltc":-1}`, 400},
		{"malformed query", "GET", "?CMCD=" + url.QueryEscape(`sid="open`), "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if code, h := n.cmcd(t, c.method, "case-"+c.name, c.query, c.body); code != c.code || h.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("%d (ACAO %q), want %d", code, h.Get("Access-Control-Allow-Origin"), c.code)
			}
		})
	}
	code, h := n.cmcd(t, "OPTIONS", "x", "", "", "Origin", "https://example.com", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type")
	if code != 204 || h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "content-type") {
		t.Fatalf("preflight: %d %v", code, h)
	}

	n.live.CollectPlayback(ctx) // close the window the cases above filled
	// One player: throughput then latency then a stall then an error, in
	// separate events; another player reports by query.
	for _, body := range []string{`{"e":"t","mtp":3000}`, `{"e":"t","ltc":5000,"ttlb":500}`, `{"e":"ps","sta":"w","bs":true}`, `{"e":"e","ec":["DRM"]}`} {
		if code, _ := n.cmcd(t, "POST", "P1", "", body); code != 200 {
			t.Fatalf("report %s: %d", body, code)
		}
	}
	if code, _ := n.cmcd(t, "GET", "P2", "?CMCD="+url.QueryEscape("mtp=1000,ltc=7000,ttlb=1500"), ""); code != 200 {
		t.Fatalf("query report: %d", code)
	}
	n.live.CollectPlayback(ctx)
	m, err := n.live.PlaybackMetrics(ctx, n.stage)
	if err != nil {
		t.Fatal(err)
	}
	last := func(ss []live.PlaybackSample) float64 { return ss[len(ss)-1].Value }
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"errors (stall, error event, error code)", last(m.Errors), 3},
		{"max bitrate", last(m.MaxBitrate), 3000},
		{"min bitrate", last(m.MinBitrate), 1000},
		{"lowest latency", last(m.LowestLatency), 5},
		{"highest latency", last(m.HighestLatency), 7},
		{"min download", last(m.MinDownload), 0.5},
		{"max download", last(m.MaxDownload), 1.5},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}
