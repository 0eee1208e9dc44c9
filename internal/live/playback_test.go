package live_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

func TestPlaybackWindows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}
	s := newService(t, storetest.OpenSQLite(t), live.Config{Now: clk.now})
	id := s.DefaultStageID()
	if err := s.SetVariants(ctx, id, []live.Variant{{VideoBitrate: 3000}, {VideoBitrate: 800}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLatencyLevel(ctx, id, 3); err != nil {
		t.Fatal(err)
	}
	for _, v := range [][2]string{{"10.0.0.1", "a"}, {"10.0.0.1", "b"}, {"10.0.0.2", "c"}} {
		s.Touch(id, v[0], v[1])
	}
	reports := []struct {
		ip, ua string
		r      live.PlaybackReport
	}{
		{"10.0.0.1", "a", live.PlaybackReport{Bandwidth: 9999, Errors: 9}}, // replaced below
		{"10.0.0.1", "a", live.PlaybackReport{Bandwidth: 2500.4, Latency: 6, DownloadDuration: 0.4, Errors: 1, QualityVariantChanges: 2}},
		{"10.0.0.1", "b", live.PlaybackReport{Bandwidth: 900.6, Latency: 9, DownloadDuration: 1.2, Errors: 0, QualityVariantChanges: 1}},
		{"10.0.0.2", "c", live.PlaybackReport{Errors: 3}}, // a player without detailed metrics
	}
	for _, r := range reports {
		if err := s.ReportPlayback(id, r.ip, r.ua, r.r); err != nil {
			t.Fatal(err)
		}
	}
	m, err := s.PlaybackMetrics(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// Two of the three viewers reported a bandwidth in the open window.
	if m.Representation != 66 || len(m.Errors) != 0 || m.SegmentLength != 4 || len(m.AvailableBitrates) != 2 ||
		m.AvailableBitrates[0] != 3000 || m.AvailableBitrates[1] != 800 {
		t.Fatalf("open window: %+v", m)
	}

	clk.add(live.PlaybackEvery)
	s.CollectPlayback(ctx)
	clk.add(live.PlaybackEvery)
	s.CollectPlayback(ctx) // an empty window
	m, err = s.PlaybackMetrics(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name   string
		series []live.PlaybackSample
		first  float64
	}{
		{"errors", m.Errors, 4},
		{"qualityVariantChanges", m.QualityVariantChanges, 3},
		{"highestLatency", m.HighestLatency, 9},
		{"medianLatency", m.MedianLatency, 7.5},
		{"lowestLatency", m.LowestLatency, 6},
		{"minDownload", m.MinDownload, 0.4},
		{"medianDownload", m.MedianDownload, 0.8},
		{"maxDownload", m.MaxDownload, 1.2},
		{"minBitrate", m.MinBitrate, 901},
		{"medianBitrate", m.MedianBitrate, 1701},
		{"maxBitrate", m.MaxBitrate, 2500},
	}
	for _, w := range want {
		if len(w.series) != 2 || w.series[0].Value != w.first || w.series[1].Value != 0 ||
			!w.series[0].Time.Equal(time.Date(2026, 1, 2, 3, 6, 0, 0, time.UTC)) ||
			!w.series[1].Time.Equal(time.Date(2026, 1, 2, 3, 8, 0, 0, time.UTC)) {
			t.Errorf("%s: %+v, want first value %v then 0", w.name, w.series, w.first)
		}
	}
	if m.LastErrorCount != 0 || m.Representation != 0 {
		t.Fatalf("after an empty window: errors %v representation %d", m.LastErrorCount, m.Representation)
	}
	// Offline: no health overview even with reports.
	if h, err := s.StreamHealth(ctx, id); err != nil || h != nil {
		t.Fatalf("offline health %+v %v", h, err)
	}
}

func TestPlaybackReportsRejected(t *testing.T) {
	t.Parallel()
	s := newService(t, storetest.OpenSQLite(t), live.Config{})
	id := s.DefaultStageID()
	cases := []struct {
		name  string
		stage string
		r     live.PlaybackReport
		kind  fault.Kind
	}{
		{"negative bandwidth", id, live.PlaybackReport{Bandwidth: -1}, fault.Invalid},
		{"negative errors", id, live.PlaybackReport{Errors: -3}, fault.Invalid},
		{"unknown stage", "nope", live.PlaybackReport{}, fault.NotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := s.ReportPlayback(c.stage, "10.1.1.1", "ua", c.r)
			if fault.KindOf(err) != c.kind {
				t.Fatalf("got %v, want kind %v", err, c.kind)
			}
		})
	}
}

func TestPlaybackReportsBoundedPerAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, storetest.OpenSQLite(t), live.Config{})
	id := s.DefaultStageID()
	for i := range 32 {
		if err := s.ReportPlayback(id, "10.2.2.2", "ua"+strconv.Itoa(i), live.PlaybackReport{Errors: 1}); err != nil {
			t.Fatal(err)
		}
	}
	err := s.ReportPlayback(id, "10.2.2.2", "ua-extra", live.PlaybackReport{Errors: 1})
	if fault.KindOf(err) != fault.RateLimited {
		t.Fatalf("33rd player from one address: %v", err)
	}
	// A known player may still replace its report, and another address is
	// unaffected.
	if err := s.ReportPlayback(id, "10.2.2.2", "ua0", live.PlaybackReport{Errors: 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReportPlayback(id, "10.3.3.3", "ua", live.PlaybackReport{}); err != nil {
		t.Fatal(err)
	}
	s.CollectPlayback(ctx)
	m, err := s.PlaybackMetrics(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Errors) != 1 || m.Errors[0].Value != 36 || m.LastErrorCount != 36 {
		t.Fatalf("errors %+v last %v, want 31 + 5", m.Errors, m.LastErrorCount)
	}
	// The next window starts with the per-address budget restored.
	if err := s.ReportPlayback(id, "10.2.2.2", "ua-extra", live.PlaybackReport{}); err != nil {
		t.Fatal(err)
	}
}

// TestPlaybackSeriesStayFinite: reports past live.MaxPlaybackValue are
// refused, so a window's sums and medians stay numbers JSON can carry. Two
// anonymous reports of 1.7e308 (JSON's largest) summed to +Inf, and the
// admin's video metrics answered an empty 200 for the 300 windows the
// series keep.
func TestPlaybackSeriesStayFinite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}
	s := newService(t, storetest.OpenSQLite(t), live.Config{Now: clk.now})
	id := s.DefaultStageID()
	huge := live.PlaybackReport{Bandwidth: 1.7e308, Latency: 1.7e308, DownloadDuration: 1.7e308, Errors: 1.7e308,
		QualityVariantChanges: 1.7e308}
	most := live.PlaybackReport{Bandwidth: live.MaxPlaybackValue, Latency: live.MaxPlaybackValue,
		DownloadDuration: live.MaxPlaybackValue, Errors: live.MaxPlaybackValue, QualityVariantChanges: live.MaxPlaybackValue}
	for _, ua := range []string{"a", "b"} {
		if err := s.ReportPlayback(id, "10.4.4.4", ua, huge); fault.KindOf(err) != fault.Invalid {
			t.Errorf("report of 1.7e308: %v, want invalid", err)
		}
		if err := s.MergePlayback(id, "10.4.4.5", ua, huge); fault.KindOf(err) != fault.Invalid {
			t.Errorf("merged report of 1.7e308: %v, want invalid", err)
		}
	}
	for _, ua := range []string{"c", "d", "e"} {
		if err := s.ReportPlayback(id, "10.4.4.6", ua, most); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := s.MergePlayback(id, "10.4.4.7", ua, most); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.add(live.PlaybackEvery)
	s.CollectPlayback(ctx)
	m, err := s.PlaybackMetrics(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(m); err != nil {
		t.Fatalf("the admin's video metrics cannot be answered: %v", err)
	}
	if len(m.Errors) != 1 || m.Errors[0].Value != 12*live.MaxPlaybackValue {
		t.Fatalf("errors series %+v, want one sample of %v", m.Errors, 12*live.MaxPlaybackValue)
	}
}
