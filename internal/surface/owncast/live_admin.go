package owncast

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/peersign"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// registerLiveAdmin adds the stream parts of Owncast's admin API. They
// share /api/admin/* with Together: what Together does not take is ours (chat.go's admin).
func (s *Surface) registerLiveAdmin(h *httpserver.Server) {
	adm := func(pattern string, f http.HandlerFunc) { s.admin(h, pattern, f) }
	adm("GET /api/admin/status", s.handleAdminStatus)
	adm("POST /api/admin/disconnect", s.handleDisconnect)
	adm("GET /api/admin/viewersOverTime", s.handleViewersOverTime)
	adm("GET /api/admin/viewers", s.handleViewers)
	adm("GET /api/admin/hardwarestats", s.handleHardware)
	adm("GET /api/admin/metrics/video", s.handleVideoMetrics)
	adm("GET /api/admin/prometheus", s.prometheusHandler(h.Registry()).ServeHTTP)
	adm("POST /api/admin/config/streamkeys", s.handleSetStreamKeys)
	adm("POST /api/admin/config/video/codec", s.handleSetCodec)
	adm("POST /api/admin/config/video/streamlatencylevel", s.handleSetLatency)
	adm("POST /api/admin/config/video/streamoutputvariants", s.handleSetVariants)
	adm("POST /api/admin/config/s3", s.handleSetS3)
	adm("POST /api/admin/config/ffmpegpath", s.handleSetFFmpegPath)
	adm("POST /api/admin/config/rtmpserverport", s.handleSetRTMPPort)
	adm("POST /api/admin/config/videoservingendpoint", s.handleSetServingEndpoint)
	// Public, but part of the playback health this file reports.
	h.Handle("POST /api/metrics/playback", s.wrap(s.handlePlaybackReport))
	h.Handle("GET /api/metrics/cmcd", s.wrap(s.handleCMCD))
	h.Handle("POST /api/metrics/cmcd", s.wrap(s.handleCMCD))
	h.Handle("OPTIONS /api/metrics/cmcd", s.wrap(cmcdPreflight))
}

// decodeValue reads Owncast's {"value": …} setter body.
func decodeValue(w http.ResponseWriter, r *http.Request, v any) bool {
	var body struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Value) == 0 {
		writeResult(w, http.StatusBadRequest, false, "unable to parse new value")
		return false
	}
	if err := json.Unmarshal(body.Value, v); err != nil {
		writeResult(w, http.StatusBadRequest, false, "unable to parse new value")
		return false
	}
	return true
}

func variantJSON(v live.Variant) map[string]any {
	m := map[string]any{"name": v.Name, "videoPassthrough": v.VideoPassthrough, "audioPassthrough": v.AudioPassthrough,
		"videoBitrate": v.VideoBitrate, "audioBitrate": v.AudioBitrate, "framerate": v.EffectiveFramerate(),
		"cpuUsageLevel": v.CPUUsageLevel, "encoderPreset": ""}
	if v.ScaledWidth != 0 {
		m["scaledWidth"] = v.ScaledWidth
	}
	if v.ScaledHeight != 0 {
		m["scaledHeight"] = v.ScaledHeight
	}
	return m
}

func variantsJSON(vs []live.Variant) []map[string]any {
	out := make([]map[string]any, len(vs))
	for i, v := range vs {
		out[i] = variantJSON(v)
	}
	return out
}

// handleAdminStatus is GET /api/admin/status. In a cluster the
// broadcast's details (broadcaster, stream details, output settings,
// health) are only on the node running it: any other node asks that node
// for them (its peer route, with a signed URL), so every node answers the
// same.
func (s *Surface) handleAdminStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.d.Live.Status(r.Context(), s.stageID())
	if err != nil {
		writeError(w, err)
		return
	}
	out := map[string]any{
		"online": st.Online, "streamTitle": s.streamTitle(st), "versionNumber": s.version(),
		"viewerCount": st.ViewerCount, "overallPeakViewerCount": st.OverallPeak, "sessionPeakViewerCount": st.SessionPeak,
	}
	details, err := s.broadcastDetails(r.Context(), s.stageID(), st)
	if err != nil {
		writeError(w, err)
		return
	}
	if st.Online && st.Broadcaster == nil {
		if d := s.ingestDetails(r.Context(), s.stageID()); d != nil {
			details = d
		}
	}
	for k, v := range details {
		out[k] = v
	}
	liveNoCache(w)
	httpserver.WriteJSON(w, http.StatusOK, out)
}

// broadcastDetails is the admin status's details of a broadcast running
// on this node: broadcaster, currentBroadcast and health (null when it
// runs elsewhere or nowhere).
func (s *Surface) broadcastDetails(ctx context.Context, stageID string, st live.Status) (map[string]any, error) {
	out := map[string]any{"broadcaster": nil, "currentBroadcast": nil, "health": nil}
	if b := st.Broadcaster; b != nil {
		out["broadcaster"] = map[string]any{"remoteAddr": b.RemoteAddr, "time": b.Time, "streamDetails": b.Details}
		out["currentBroadcast"] = map[string]any{"outputSettings": variantsJSON(st.Variants),
			"latencyLevel": map[string]any{"level": st.LatencyLevel}}
		h, err := s.d.Live.StreamHealth(ctx, stageID)
		if err != nil {
			return nil, err
		}
		out["health"] = healthJSON(h)
	}
	return out, nil
}

// Bounds on asking the node running a broadcast for its details.
const (
	peerStatusTimeout = 5 * time.Second
	maxPeerStatus     = 1 << 20
)

// ingestDetails asks the node running stageID's broadcast, when it is
// another node, for its details (the peer route's live.StatusPeerName);
// nil when it runs here or nowhere, or that node did not answer (then the
// status shows the stage online without them, and the cause is logged).
func (s *Surface) ingestDetails(ctx context.Context, stageID string) map[string]any {
	u, err := s.d.Live.IngestStatusURL(ctx, stageID)
	if err != nil || u == "" {
		if err != nil {
			s.log.Warn("live: where the stream runs is not known", "stage", stageID, "err", err)
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil
	}
	res, err := s.peerStatus.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("live: the node running the stream did not answer", "stage", stageID, "err", err)
			if peersign.Unreachable(err) {
				s.d.Live.IngestUnreachable(ctx, stageID, live.StatusPeerName)
			}
		}
		return nil
	}
	defer res.Body.Close()
	var d map[string]any
	if res.StatusCode != http.StatusOK {
		s.log.Warn("live: the node running the stream failed to give its details", "stage", stageID, "status", res.StatusCode)
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxPeerStatus)).Decode(&d); err != nil {
		s.log.Warn("live: the node running the stream sent unreadable details", "stage", stageID, "err", err)
		return nil
	}
	out := map[string]any{}
	for _, k := range []string{"broadcaster", "currentBroadcast", "health"} {
		out[k] = d[k]
	}
	// The peaks are kept by the node running the broadcast (absent from
	// the answer of a node that predates them).
	for _, k := range []string{"sessionPeakViewerCount", "overallPeakViewerCount"} {
		if v, ok := d[k]; ok {
			out[k] = v
		}
	}
	return out
}

// ingestStatus answers the peer route's live.StatusPeerName: this node's
// details of the stage's broadcast (nulls when it does not run here).
func (s *Surface) ingestStatus(w http.ResponseWriter, r *http.Request, stageID string) {
	st, err := s.d.Live.Status(r.Context(), stageID)
	if err != nil {
		writeError(w, err)
		return
	}
	d, err := s.broadcastDetails(r.Context(), stageID, st)
	if err != nil {
		writeError(w, err)
		return
	}
	if st.Broadcaster != nil {
		d["sessionPeakViewerCount"], d["overallPeakViewerCount"] = st.SessionPeak, st.OverallPeak
	}
	liveNoCache(w)
	httpserver.WriteJSON(w, http.StatusOK, d)
}

// handleDisconnect is POST /api/admin/disconnect.
func (s *Surface) handleDisconnect(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Live.Disconnect(s.stageID()); err != nil {
		if errors.Is(err, live.ErrOffline) {
			writeResult(w, http.StatusBadRequest, false, "no inbound stream connected")
			return
		}
		writeError(w, err)
		return
	}
	writeResult(w, http.StatusOK, true, "inbound stream disconnected")
}

// handleViewersOverTime is GET /api/admin/viewersOverTime?windowStart=<unix>.
func (s *Surface) handleViewersOverTime(w http.ResponseWriter, r *http.Request) {
	since := time.Now().Add(-24 * time.Hour)
	if v := r.URL.Query().Get("windowStart"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeResult(w, http.StatusBadRequest, false, "windowStart must be a unix time in seconds")
			return
		}
		since = time.Unix(n, 0)
	}
	samples, err := s.d.Live.ViewersOverTime(r.Context(), s.stageID(), since)
	if err != nil {
		writeError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, samplesJSON(samples))
}

func samplesJSON(ss []live.Sample) []map[string]any {
	out := make([]map[string]any, len(ss))
	for i, x := range ss {
		out[i] = map[string]any{"time": x.Time, "value": x.Value}
	}
	return out
}

// handleViewers is GET /api/admin/viewers.
func (s *Surface) handleViewers(w http.ResponseWriter, r *http.Request) {
	vs, err := s.d.Live.Viewers(s.stageID())
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]map[string]any, len(vs))
	for i, v := range vs {
		out[i] = map[string]any{"firstSeen": v.FirstSeen.UTC(), "lastSeen": v.LastSeen.UTC(), "userAgent": v.UserAgent,
			"ipAddress": v.IP, "clientID": v.ClientID, "geo": nil}
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

// handleHardware is GET /api/admin/hardwarestats.
func (s *Surface) handleHardware(w http.ResponseWriter, r *http.Request) {
	hw := s.d.Live.Hardware()
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"cpu": samplesJSON(hw.CPU), "memory": samplesJSON(hw.Memory),
		"disk": samplesJSON(hw.Disk)})
}

// prometheusHandler serves Owncast's instance metrics (on their own
// registry; the chat gauges when chat is wired, the stream gauges when live
// streaming is) followed by the node's own metrics.
func (s *Surface) prometheusHandler(node prometheus.Gatherer) http.Handler {
	reg := prometheus.NewRegistry()
	host, _ := os.Hostname()
	labels := prometheus.Labels{"host": host, "version": s.version()}
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f))
	}
	if s.d.Chat != nil {
		gauge("owncast_instance_active_chat_client_count", "The number of connected chat clients.", func() float64 {
			return float64(s.d.Chat.Presence().Connected())
		})
		reg.MustRegister(newChatCounts(s.d.Life, s.d.Chat, labels))
	}
	if s.d.Live != nil {
		gauge("owncast_instance_active_viewer_count", "The number of viewers.", func() float64 {
			st, err := s.d.Live.Status(s.d.Life, s.stageID())
			if err != nil {
				return 0
			}
			return float64(st.ViewerCount)
		})
		gauge("owncast_instance_playback_error_count", "Errors reported by players in the last 2-minute window.", func() float64 {
			m, err := s.d.Live.PlaybackMetrics(s.d.Life, s.stageID())
			if err != nil {
				return 0
			}
			return m.LastErrorCount
		})
		gauge("owncast_instance_cpu_usage", "CPU usage (percent).", func() float64 {
			if c := s.d.Live.Hardware().CPU; len(c) > 0 {
				return float64(c[len(c)-1].Value)
			}
			return 0
		})
	}
	return promhttp.HandlerFor(prometheus.Gatherers{reg, node}, promhttp.HandlerOpts{})
}

// chatCounts collects Owncast's two stored-chat gauges from one query per
// scrape.
type chatCounts struct {
	life            context.Context
	chat            *stagechat.Service
	users, messages *prometheus.Desc
}

func newChatCounts(life context.Context, chat *stagechat.Service, labels prometheus.Labels) *chatCounts {
	return &chatCounts{life: life, chat: chat,
		users:    prometheus.NewDesc("owncast_instance_total_chat_users", "The total number of chat users on this Owncast instance.", nil, labels),
		messages: prometheus.NewDesc("owncast_instance_current_chat_message_count", "The number of chat messages currently saved before cleanup.", nil, labels),
	}
}

func (c *chatCounts) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.users
	ch <- c.messages
}

func (c *chatCounts) Collect(ch chan<- prometheus.Metric) {
	users, msgs, err := c.chat.Counts(c.life)
	if err != nil {
		return // a scrape without these two beats a failed scrape
	}
	ch <- prometheus.MustNewConstMetric(c.users, prometheus.GaugeValue, float64(users))
	ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(msgs))
}

func (s *Surface) changed(w http.ResponseWriter, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeResult(w, http.StatusOK, true, "changed")
}

// handleSetStreamKeys is POST /api/admin/config/streamkeys {value:[{key,comment}]}.
func (s *Surface) handleSetStreamKeys(w http.ResponseWriter, r *http.Request) {
	var keys []live.StreamKey
	if !decodeValue(w, r, &keys) {
		return
	}
	s.changed(w, s.d.Live.SetStreamKeys(r.Context(), s.stageID(), keys))
}

func (s *Surface) handleSetCodec(w http.ResponseWriter, r *http.Request) {
	var codec string
	if !decodeValue(w, r, &codec) {
		return
	}
	s.changed(w, s.d.Live.SetVideoCodec(r.Context(), s.stageID(), codec))
}

func (s *Surface) handleSetLatency(w http.ResponseWriter, r *http.Request) {
	var level int
	if !decodeValue(w, r, &level) {
		return
	}
	s.changed(w, s.d.Live.SetLatencyLevel(r.Context(), s.stageID(), level))
}

func (s *Surface) handleSetVariants(w http.ResponseWriter, r *http.Request) {
	var vs []live.Variant
	if !decodeValue(w, r, &vs) {
		return
	}
	s.changed(w, s.d.Live.SetVariants(r.Context(), s.stageID(), vs))
}

// s3JSON is Owncast's S3 settings object.
type s3JSON struct {
	Enabled         bool   `json:"enabled"`
	Endpoint        string `json:"endpoint"`
	AccessKey       string `json:"accessKey"`
	Secret          string `json:"secret"`
	Bucket          string `json:"bucket"`
	Region          string `json:"region"`
	ACL             string `json:"acl"`
	PathPrefix      string `json:"pathPrefix"`
	ForcePathStyle  bool   `json:"forcePathStyle"`
	ServingEndpoint string `json:"servingEndpoint"`
}

func (s *Surface) handleSetS3(w http.ResponseWriter, r *http.Request) {
	var v s3JSON
	if !decodeValue(w, r, &v) {
		return
	}
	c := hls.S3Config{Enabled: v.Enabled, Endpoint: v.Endpoint, AccessKey: v.AccessKey, Secret: v.Secret, Bucket: v.Bucket,
		Region: v.Region, ACL: v.ACL, PathPrefix: v.PathPrefix, ForcePathStyle: v.ForcePathStyle, ServingEndpoint: v.ServingEndpoint}
	s.changed(w, s.d.Live.UpdateSettings(r.Context(), func(st *live.Settings) error { st.S3 = c; return nil }))
}

func (s *Surface) handleSetFFmpegPath(w http.ResponseWriter, r *http.Request) {
	var p string
	if !decodeValue(w, r, &p) {
		return
	}
	if !filepath.IsAbs(p) {
		writeResult(w, http.StatusBadRequest, false, "ffmpeg path must be an absolute path to an executable")
		return
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		writeResult(w, http.StatusBadRequest, false, "ffmpeg path must be an absolute path to an executable")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, p, "-version").Output(); err != nil || len(out) < 6 || string(out[:6]) != "ffmpeg" {
		writeResult(w, http.StatusBadRequest, false, "that executable is not ffmpeg")
		return
	}
	s.changed(w, s.d.Live.UpdateSettings(r.Context(), func(st *live.Settings) error { st.FFmpegPath = p; return nil }))
}

func (s *Surface) handleSetRTMPPort(w http.ResponseWriter, r *http.Request) {
	s.setBoundPort(w, r, s.d.Live.IngestPort(), "RTMP port", "--rtmp-addr",
		"RTMP ingest is off on this server (--rtmp-addr is empty)")
}

// setBoundPort answers a port setting whose listener (flag) is bound when
// Hearth starts: a port it is not on is refused rather than stored with no
// effect (Owncast moves its listener at the next start); the listener's own
// port is accepted, so a form that saves every field at once succeeds.
// bound is that port; 0 is a listener that is off (off says so) or, with
// off empty, a port not known.
func (s *Surface) setBoundPort(w http.ResponseWriter, r *http.Request, bound int, what, flag, off string) {
	var port int
	if !decodeValue(w, r, &port) {
		return
	}
	if port < 1 || port > 65535 {
		writeError(w, fault.New(fault.Invalid, "port must be 1-65535"))
		return
	}
	move := flag + " :" + strconv.Itoa(port)
	switch {
	case bound == 0 && off != "":
		writeResult(w, http.StatusBadRequest, false, off+"; start it with "+move)
	case bound == 0:
		writeResult(w, http.StatusBadRequest, false, "the "+what+" is set when Hearth starts ("+flag+"); restart it with "+move+" to move it")
	case port != bound:
		writeResult(w, http.StatusBadRequest, false, "the "+what+" is set when Hearth starts ("+flag+", now port "+strconv.Itoa(bound)+
			"); restart it with "+move+" to move it")
	default:
		writeResult(w, http.StatusOK, true, "changed")
	}
}

func (s *Surface) handleSetServingEndpoint(w http.ResponseWriter, r *http.Request) {
	var ep string
	if !decodeValue(w, r, &ep) {
		return
	}
	if ep != "" {
		if err := (hls.S3Config{Enabled: true, Endpoint: "x", Bucket: "x", ServingEndpoint: ep}).Validate(); err != nil {
			writeResult(w, http.StatusBadRequest, false, "video serving endpoint must be an http(s) URL")
			return
		}
	}
	s.changed(w, s.d.Live.UpdateSettings(r.Context(), func(st *live.Settings) error { st.VideoServingEndpoint = ep; return nil }))
}

// liveServerConfig is the stream part of GET /api/admin/serverconfig.
func (s *Surface) liveServerConfig(ctx context.Context) map[string]any {
	stage, err := s.d.Live.StageSettings(ctx, s.stageID())
	if err != nil {
		return map[string]any{}
	}
	keys, err := s.d.Live.StreamKeys(ctx, s.stageID())
	if err != nil {
		keys = []live.StreamKey{}
	}
	set := s.d.Live.Settings()
	c := set.S3
	return map[string]any{
		"streamKeys":           keys,
		"streamKeyOverridden":  s.d.Live.TempStreamKeyActive(),
		"ffmpegPath":           set.FFmpegPath,
		"rtmpServerPort":       s.d.Live.IngestPort(),
		"videoServingEndpoint": set.VideoServingEndpoint,
		"videoCodec":           stage.VideoCodec,
		"supportedCodecs":      live.SupportedCodecs(),
		"videoSettings": map[string]any{"latencyLevel": stage.LatencyLevel,
			"videoQualityVariants": variantsJSON(stage.Variants)},
		"s3": s3JSON{Enabled: c.Enabled, Endpoint: c.Endpoint, AccessKey: c.AccessKey, Secret: c.Secret, Bucket: c.Bucket,
			Region: c.Region, ACL: c.ACL, PathPrefix: c.PathPrefix, ForcePathStyle: c.ForcePathStyle, ServingEndpoint: c.ServingEndpoint},
	}
}
