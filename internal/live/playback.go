package live

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// Player-reported playback metrics and the stream-health overview built
// from them (Owncast's metrics/playback.go and healthOverview.go): each
// player posts a report every few seconds; the latest report per viewer is
// kept for the current window; every PlaybackEvery (Owncast: 2 minutes) the
// window is folded into time series (sum of errors and quality changes;
// min/median/max of latency, segment download time and bandwidth), the
// health overview is recomputed while the stage is live, and the window
// starts empty again.

const (
	// PlaybackEvery is Owncast's playback-metrics polling interval.
	PlaybackEvery = 2 * time.Minute
	// playbackKeep is how many samples each series keeps (Owncast's
	// maxCollectionValues).
	playbackKeep = 300
	// maxReportsPerIP and maxReports bound one window's memory as the
	// viewer list is bounded (the User-Agent is the client's to choose).
	maxReportsPerIP = maxViewersPerIP
	maxReports      = maxViewers

	healthyPercentageMin     = 75
	maxCPUUsage              = 90
	minClientCountForDetails = 3
)

// PlaybackReport is one player's report: bandwidth in kbps, latency and
// segment download duration in seconds, and counts of errors and quality
// (variant) changes since its previous report. A zero bandwidth, latency or
// download duration means "not measured" and is left out of those series.
type PlaybackReport struct {
	Bandwidth             float64
	Latency               float64
	DownloadDuration      float64
	Errors                float64
	QualityVariantChanges float64
}

// MaxPlaybackValue bounds each measure of a report. Windows sum errors and
// quality changes over up to maxReports players, and a median of two is
// their mean, so values near float64's largest (1.7e308, which JSON
// carries) added up to +Inf, which no JSON can carry: two anonymous
// reports left the admin's video metrics an empty 200 for the 300 windows
// (10 hours) the series keep. A billion (kbps, seconds or a count per
// report) is far past any real player's.
const MaxPlaybackValue = 1e9

func (r PlaybackReport) validate() error {
	for _, v := range []float64{r.Bandwidth, r.Latency, r.DownloadDuration, r.Errors, r.QualityVariantChanges} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > MaxPlaybackValue {
			return fault.New(fault.Invalid, "playback metrics must be non-negative numbers of at most 1e9")
		}
	}
	return nil
}

// PlaybackSample is one point of a playback series.
type PlaybackSample struct {
	Time  time.Time
	Value float64
}

// PlaybackSeries are a stage's playback time series and the output the
// players are offered.
type PlaybackSeries struct {
	Errors, QualityVariantChanges                []PlaybackSample
	HighestLatency, MedianLatency, LowestLatency []PlaybackSample
	MinDownload, MedianDownload, MaxDownload     []PlaybackSample
	MinBitrate, MedianBitrate, MaxBitrate        []PlaybackSample
	AvailableBitrates                            []int
	SegmentLength                                int
	Representation                               int // percent of viewers in the current window
	LastErrorCount                               float64
}

// StreamHealth is Owncast's StreamHealthOverview.
type StreamHealth struct {
	Healthy          bool
	HealthPercentage int
	Message          string
	Representation   int
}

type playerReport struct {
	ip, userAgent         string
	firstSeen, lastUpdate time.Time // first and latest report this window
	PlaybackReport
}

// playbackStage is one stage's window and series.
type playbackStage struct {
	cur    map[string]playerReport // viewer id → latest report this window
	perIP  map[string]int
	series [11][]PlaybackSample // in PlaybackSeries field order
	errs   float64              // the last collected error count
	health *StreamHealth
}

type playbackStore struct {
	mu     sync.Mutex
	stages map[string]*playbackStage
}

func (s *Service) playback() *playbackStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pb == nil {
		s.pb = &playbackStore{stages: map[string]*playbackStage{}}
	}
	return s.pb
}

func (p *playbackStore) stageLocked(id string) *playbackStage {
	ps := p.stages[id]
	if ps == nil {
		ps = &playbackStage{cur: map[string]playerReport{}, perIP: map[string]int{}}
		p.stages[id] = ps
	}
	return ps
}

// ReportPlayback keeps a player's report for the current window. The
// player is the viewer MD5(IP + User-Agent), as Touch counts it; a later
// report in the same window replaces an earlier one.
func (s *Service) ReportPlayback(stageID, ip, userAgent string, r PlaybackReport) error {
	if _, err := s.stage(stageID); err != nil {
		return err
	}
	if err := r.validate(); err != nil {
		return err
	}
	sum := md5.Sum([]byte(ip + userAgent))
	id := hex.EncodeToString(sum[:])
	p := s.playback()
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := p.stageLocked(stageID)
	if _, ok := ps.cur[id]; !ok {
		if len(ps.cur) >= maxReports || ps.perIP[ratelimit.AddrKey(ip)] >= maxReportsPerIP {
			return fault.New(fault.RateLimited, "too many players reporting")
		}
		ps.perIP[ratelimit.AddrKey(ip)]++
	}
	now := s.cfg.Now().UTC()
	first := now
	if prev, ok := ps.cur[id]; ok {
		first = prev.firstSeen
	}
	ps.cur[id] = playerReport{ip: ip, userAgent: userAgent, firstSeen: first, lastUpdate: now, PlaybackReport: r}
	return nil
}

// MergePlayback adds a partial report (one CMCD event carries only some
// measures) to the player's report of the current window: the measures it
// carries (non-zero) replace the player's, and its errors and quality
// changes add to theirs. The player is the viewer MD5(IP + User-Agent).
func (s *Service) MergePlayback(stageID, ip, userAgent string, r PlaybackReport) error {
	if _, err := s.stage(stageID); err != nil {
		return err
	}
	if err := r.validate(); err != nil {
		return err
	}
	sum := md5.Sum([]byte(ip + userAgent))
	id := hex.EncodeToString(sum[:])
	p := s.playback()
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := p.stageLocked(stageID)
	cur, ok := ps.cur[id]
	if !ok {
		if len(ps.cur) >= maxReports || ps.perIP[ratelimit.AddrKey(ip)] >= maxReportsPerIP {
			return fault.New(fault.RateLimited, "too many players reporting")
		}
		ps.perIP[ratelimit.AddrKey(ip)]++
		cur = playerReport{ip: ip, userAgent: userAgent, firstSeen: s.cfg.Now().UTC()}
	}
	cur.lastUpdate = s.cfg.Now().UTC()
	if r.Bandwidth != 0 {
		cur.Bandwidth = r.Bandwidth
	}
	if r.Latency != 0 {
		cur.Latency = r.Latency
	}
	if r.DownloadDuration != 0 {
		cur.DownloadDuration = r.DownloadDuration
	}
	cur.Errors += r.Errors
	cur.QualityVariantChanges += r.QualityVariantChanges
	ps.cur[id] = cur
	return nil
}

// CollectPlayback closes every stage's window: it appends one sample to
// each series, recomputes the health overview of live stages, and empties
// the window. Run calls it every PlaybackEvery.
func (s *Service) CollectPlayback(ctx context.Context) {
	hw := s.Hardware()
	for _, st := range s.allStages() {
		status, err := s.Status(ctx, st.id)
		if err != nil {
			continue
		}
		p := s.playback()
		p.mu.Lock()
		ps := p.stageLocked(st.id)
		if status.Online {
			ps.health = computeHealth(healthInput{viewers: status.ViewerCount, reports: ps.reports(),
				variants: status.Variants, level: status.LatencyLevel, inbound: inboundBitrate(status), cpu: hw.CPU})
		} else {
			ps.health = nil // a later broadcast starts without the last one's overview
		}
		ps.collect(s.cfg.Now())
		p.mu.Unlock()
	}
}

func inboundBitrate(st Status) int {
	if st.Broadcaster == nil {
		return 0
	}
	return st.Broadcaster.Details.VideoBitrate
}

func (ps *playbackStage) reports() []PlaybackReport {
	out := make([]PlaybackReport, 0, len(ps.cur))
	for _, r := range ps.cur {
		out = append(out, r.PlaybackReport)
	}
	return out
}

func (ps *playbackStage) collect(now time.Time) {
	var errs, changes float64
	var lat, dl, bw []float64
	for _, r := range ps.cur {
		errs += r.Errors
		changes += r.QualityVariantChanges
		if r.Latency != 0 {
			lat = append(lat, r.Latency)
		}
		if r.DownloadDuration != 0 {
			dl = append(dl, r.DownloadDuration)
		}
		if r.Bandwidth != 0 {
			bw = append(bw, r.Bandwidth)
		}
	}
	latMin, latMed, latMax := minMedMax(lat)
	dlMin, dlMed, dlMax := minMedMax(dl)
	bwMin, bwMed, bwMax := minMedMax(bw)
	vals := [11]float64{errs, changes, latMax, latMed, latMin, dlMin, dlMed, dlMax,
		math.Round(bwMin), math.Round(bwMed), math.Round(bwMax)}
	t := now.UTC()
	for i, v := range vals {
		ps.series[i] = append(ps.series[i], PlaybackSample{Time: t, Value: v})
		if len(ps.series[i]) > playbackKeep {
			ps.series[i] = slices.Clone(ps.series[i][len(ps.series[i])-playbackKeep:])
		}
	}
	ps.errs = errs
	clear(ps.cur)
	clear(ps.perIP)
}

// minMedMax returns the minimum, median and maximum (zeros when empty).
// The median of an even count is the mean of the middle two.
func minMedMax(v []float64) (lo, med, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	sort.Float64s(v)
	n := len(v)
	med = v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return v[0], med, v[n-1]
}

// PlaybackMetrics returns a stage's playback series with the output of its
// running broadcast (or its stored settings when offline).
func (s *Service) PlaybackMetrics(ctx context.Context, stageID string) (PlaybackSeries, error) {
	status, err := s.Status(ctx, stageID)
	if err != nil {
		return PlaybackSeries{}, err
	}
	out := PlaybackSeries{AvailableBitrates: make([]int, len(status.Variants))}
	for i, v := range status.Variants {
		out.AvailableBitrates[i] = v.VideoBitrate
	}
	if l, ok := LatencyLevelFor(status.LatencyLevel); ok {
		out.SegmentLength = l.SecondsPerSegment
	}
	p := s.playback()
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := p.stageLocked(stageID)
	dst := []*[]PlaybackSample{&out.Errors, &out.QualityVariantChanges, &out.HighestLatency, &out.MedianLatency,
		&out.LowestLatency, &out.MinDownload, &out.MedianDownload, &out.MaxDownload, &out.MinBitrate, &out.MedianBitrate,
		&out.MaxBitrate}
	for i, d := range dst {
		*d = append([]PlaybackSample{}, ps.series[i]...)
	}
	measured := 0
	for _, r := range ps.cur {
		if r.Bandwidth != 0 {
			measured++
		}
	}
	out.Representation = intPercentage(measured, status.ViewerCount)
	out.LastErrorCount = ps.errs
	return out, nil
}

// StreamHealth returns the overview computed at the last collection while
// live, or nil: offline, no viewers, or no player reported in that window.
func (s *Service) StreamHealth(ctx context.Context, stageID string) (*StreamHealth, error) {
	status, err := s.Status(ctx, stageID)
	if err != nil {
		return nil, err
	}
	if !status.Online {
		return nil, nil
	}
	p := s.playback()
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := p.stages[stageID]
	if ps == nil || ps.health == nil {
		return nil, nil
	}
	h := *ps.health
	return &h, nil
}

func intPercentage(n, total int) int {
	if total <= 0 {
		return 0
	}
	return int(float64(n) / float64(total) * 100)
}

type healthInput struct {
	viewers  int              // active viewers
	reports  []PlaybackReport // the window being closed
	variants []Variant
	level    int
	inbound  int      // the publisher's video bitrate (kbps), 0 if unknown
	cpu      []Sample // hardware CPU samples, oldest first
}

// computeHealth is Owncast's generateStreamHealthOverview: the share of
// reporting players without errors (healthy above 75 %), and the first
// message that applies of: a wasteful inbound bitrate, high CPU, players
// slower than the lowest bitrate, players with errors.
func computeHealth(in healthInput) *StreamHealth {
	if in.viewers == 0 || len(in.reports) == 0 {
		return nil
	}
	withErrors, measured := 0, 0
	for _, r := range in.reports {
		if r.Errors > 0 {
			withErrors++
		}
		if r.Bandwidth != 0 {
			measured++
		}
	}
	pct := 100 - intPercentage(withErrors, len(in.reports))
	h := &StreamHealth{Healthy: pct > healthyPercentageMin, HealthPercentage: pct}
	if measured > 0 {
		h.Representation = intPercentage(measured, in.viewers)
	}
	for _, msg := range []func(healthInput) string{wastefulBitrateMessage, cpuMessage, networkSpeedMessage, errorCountMessage} {
		if m := msg(in); m != "" {
			h.Message = m
			break
		}
	}
	return h
}

// recentCPU is the mean of the last two CPU samples, or -1 with fewer.
func recentCPU(cpu []Sample) float64 {
	if len(cpu) < 2 {
		return -1
	}
	return float64(cpu[len(cpu)-1].Value+cpu[len(cpu)-2].Value) / 2
}

// sortedVariants orders variants as Owncast's health checks do:
// passthrough first, then by video bitrate, highest first.
func sortedVariants(vs []Variant) []Variant {
	out := slices.Clone(vs)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].VideoPassthrough != out[j].VideoPassthrough {
			return out[i].VideoPassthrough
		}
		return out[i].VideoBitrate > out[j].VideoBitrate
	})
	return out
}

func wastefulBitrateMessage(in healthInput) string {
	if c := recentCPU(in.cpu); c < maxCPUUsage-10 || in.inbound == 0 || len(in.variants) == 0 {
		return ""
	}
	vs := sortedVariants(in.variants)
	if vs[0].VideoPassthrough {
		return "" // the full-rate rendition is copied, not re-encoded
	}
	if top := vs[0].VideoBitrate; in.inbound > top {
		return fmt.Sprintf("You're streaming to Owncast at %dkbps but only broadcasting to your viewers at %dkbps, "+
			"requiring unnecessary work to be performed and possible excessive CPU use. You may want to decrease what "+
			"you're sending to Owncast or increase what you send to your viewers so the highest bitrate matches.", in.inbound, top)
	}
	return ""
}

func cpuMessage(in healthInput) string {
	if recentCPU(in.cpu) < maxCPUUsage {
		return ""
	}
	return fmt.Sprintf("The CPU usage on your server is over %d%%. This may cause video to be provided slower than "+
		"necessary, causing buffering for your viewers. Consider increasing the resources available or reducing the "+
		"number of output variants you made available.", maxCPUUsage)
}

func networkSpeedMessage(in healthInput) string {
	if len(in.variants) == 0 {
		return ""
	}
	vs := sortedVariants(in.variants)
	lowest := float64(vs[len(vs)-1].VideoBitrate)
	total, slow := 0, 0
	for _, r := range in.reports {
		if r.Bandwidth == 0 {
			continue
		}
		total++
		if int(r.Bandwidth) < int(lowest*1.1) {
			slow++
		}
	}
	if slow == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d viewers (%d%%) are consuming video slower than, or too close to your bitrate of %d kbps.",
		slow, total, intPercentage(slow, total), int(lowest))
}

func errorCountMessage(in healthInput) string {
	total, withErrors := len(in.reports), 0
	for _, r := range in.reports {
		if r.Errors > 0 {
			withErrors++
		}
	}
	if withErrors == 0 || total < minClientCountForDetails {
		return ""
	}
	pct := intPercentage(withErrors, total)
	for _, v := range in.variants {
		if v.VideoPassthrough {
			return fmt.Sprintf("%d of %d viewers (%d%%) are experiencing errors. You're currently using a video "+
				"passthrough output, often known for causing playback issues for people. It is suggested you turn it off.",
				withErrors, total, pct)
		}
	}
	if l, ok := LatencyLevelFor(in.level); ok && l.SecondsPerSegment < 3 {
		return fmt.Sprintf("%d of %d viewers (%d%%) may be experiencing some issues. You may want to increase your "+
			"latency buffer level in your video configuration to see if it helps.", withErrors, total, pct)
	}
	return fmt.Sprintf("%d of %d viewers (%d%%) may be experiencing some issues.", withErrors, total, pct)
}
