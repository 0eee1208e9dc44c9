// Package live owns stages and their broadcasts: Owncast's one stream is
// the default stage; the domain allows more (one publisher each). It holds
// stream keys, video settings (codec, latency level, output variants), the
// broadcast state machine (offline → live → offline), ingest → transcode →
// HLS origin, viewers, stats, thumbnails and S3 offload, and publishes
// domain events (stream started/stopped, title changed) on the bus. It knows
// no wire format: the Owncast surface renders its types.
package live

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/transcode"
)

// LatencyLevel is one HLS latency setting: segment length and how many
// segments the playlist lists.
type LatencyLevel struct {
	Level             int
	SecondsPerSegment int
	SegmentCount      int
}

// LatencyLevels are Owncast's levels 0–4 plus Hearth's level 5: low-latency
// HLS, 1-second segments published as 200 ms parts (players without
// LL-HLS see ordinary 1 s segments).
func LatencyLevels() []LatencyLevel {
	return []LatencyLevel{
		{0, 1, 25}, {1, 2, 15}, {2, 3, 10}, {3, 4, 8}, {4, 5, 5}, {5, 1, 6},
	}
}

// DefaultLatencyLevel is Owncast's default (3 s segments).
const DefaultLatencyLevel = 2

// LatencyLevelFor returns level n, or false.
func LatencyLevelFor(n int) (LatencyLevel, bool) {
	ls := LatencyLevels()
	if n < 0 || n >= len(ls) {
		return LatencyLevel{}, false
	}
	return ls[n], true
}

// Variant is one output rendition (Owncast's StreamOutputVariant).
type Variant struct {
	Name             string `json:"name"`
	VideoPassthrough bool   `json:"videoPassthrough"`
	AudioPassthrough bool   `json:"audioPassthrough"`
	VideoBitrate     int    `json:"videoBitrate"`
	AudioBitrate     int    `json:"audioBitrate"`
	ScaledWidth      int    `json:"scaledWidth,omitempty"`
	ScaledHeight     int    `json:"scaledHeight,omitempty"`
	Framerate        int    `json:"framerate"`
	CPUUsageLevel    int    `json:"cpuUsageLevel"`
}

// DefaultVariants is Owncast's default: one 1200 kbps, 24 fps x264 variant
// with audio passed through.
func DefaultVariants() []Variant {
	return []Variant{{VideoBitrate: 1200, Framerate: 24, CPUUsageLevel: 2, AudioPassthrough: true}}
}

// DisplayName is Owncast's label for a variant.
func (v Variant) DisplayName() string {
	br := bitrateString(v.VideoBitrate)
	switch {
	case v.Name != "":
		return v.Name
	case v.VideoPassthrough:
		return "Source"
	case v.ScaledHeight == 720 && v.ScaledWidth == 1080:
		return "720p @" + br
	case v.ScaledHeight == 1080 && v.ScaledWidth == 1920:
		return "1080p @" + br
	case v.ScaledHeight != 0:
		return fmt.Sprintf("%dh", v.ScaledHeight)
	case v.ScaledWidth != 0:
		return fmt.Sprintf("%dw", v.ScaledWidth)
	}
	return fmt.Sprintf("%s@%dfps", br, v.EffectiveFramerate())
}

// EffectiveFramerate is the output frame rate (0 for passthrough).
func (v Variant) EffectiveFramerate() int {
	if v.VideoPassthrough {
		return 0
	}
	if v.Framerate > 0 {
		return v.Framerate
	}
	return 24
}

func bitrateString(kbps int) string {
	switch {
	case kbps <= 0:
		return ""
	case kbps < 1000:
		return fmt.Sprintf("%dKbps", kbps)
	case math.Mod(float64(kbps), 1000) == 0:
		return fmt.Sprintf("%dMbps", kbps/1000)
	}
	return fmt.Sprintf("%.1fMbps", float64(kbps)/1000)
}

func (v Variant) validate() error {
	switch {
	case v.VideoBitrate < 0 || v.VideoBitrate > 100000:
		return fmt.Errorf("videoBitrate %d out of range (0-100000 kbps)", v.VideoBitrate)
	case v.AudioBitrate < 0 || v.AudioBitrate > 1024:
		return fmt.Errorf("audioBitrate %d out of range (0-1024 kbps)", v.AudioBitrate)
	case v.ScaledWidth < 0 || v.ScaledWidth > 7680 || v.ScaledHeight < 0 || v.ScaledHeight > 4320:
		return fmt.Errorf("scaled size %dx%d out of range", v.ScaledWidth, v.ScaledHeight)
	case v.Framerate < 0 || v.Framerate > 120:
		return fmt.Errorf("framerate %d out of range (0-120)", v.Framerate)
	case v.CPUUsageLevel < 0 || v.CPUUsageLevel > 4:
		return fmt.Errorf("cpuUsageLevel %d out of range (0-4)", v.CPUUsageLevel)
	case len(v.Name) > 100:
		return fmt.Errorf("name too long")
	case strings.IndexByte(v.Name, 0) >= 0:
		// The variants are stored as JSON, past the store's own check.
		return fmt.Errorf("name must not contain NUL characters")
	}
	return nil
}

func (v Variant) transcode() transcode.Variant {
	return transcode.Variant{VideoPassthrough: v.VideoPassthrough, AudioPassthrough: v.AudioPassthrough,
		VideoBitrate: v.VideoBitrate, AudioBitrate: v.AudioBitrate, ScaledWidth: v.ScaledWidth, ScaledHeight: v.ScaledHeight,
		Framerate: v.EffectiveFramerate(), CPUUsageLevel: v.CPUUsageLevel}
}

// SupportedCodecs are the video encoders Owncast offers (libx264 first).
func SupportedCodecs() []string {
	return []string{"libx264", "h264_nvenc", "h264_vaapi", "h264_qsv", "h264_v4l2m2m", "h264_omx", "h264_videotoolbox"}
}

// StreamKey is a key a publisher may use, with the streamer's comment.
type StreamKey struct {
	Key     string `json:"key"`
	Comment string `json:"comment"`
	// Holder is the account a community stage channel's key is issued to
	// (publishing with it asks the PublishGate whether they may still);
	// "" for the default stage's keys, which are the instance admin's.
	Holder string `json:"-"`
}

// Stage is a place one publisher streams to.
type Stage struct {
	ID             string
	Name           string
	Default        bool
	Title          string
	VideoCodec     string
	LatencyLevel   int
	Variants       []Variant
	LastConnect    *time.Time
	LastDisconnect *time.Time
	OverallPeak    int
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// StreamDetails describe the inbound stream (from onMetaData and the
// codec headers).
type StreamDetails struct {
	Width        int     `json:"width"`
	Height       int     `json:"height"`
	Framerate    float64 `json:"framerate"`
	VideoBitrate int     `json:"videoBitrate"`
	VideoCodec   string  `json:"videoCodec"`
	AudioBitrate int     `json:"audioBitrate"`
	AudioCodec   string  `json:"audioCodec"`
	Encoder      string  `json:"encoder"`
}

// Broadcaster is the connected publisher.
type Broadcaster struct {
	RemoteAddr string
	Time       time.Time
	Details    StreamDetails
}

// Settings are the instance-wide video settings.
type Settings struct {
	FFmpegPath           string       `json:"ffmpegPath"`
	VideoServingEndpoint string       `json:"videoServingEndpoint"`
	S3                   hls.S3Config `json:"s3"`
}

// Sample is one point of a time series.
type Sample struct {
	Time  time.Time
	Value int
}

// Store persists stages, keys, settings and history. Lookups that match
// nothing return fault.NotFound; a stream key already used by another stage
// is fault.Conflict.
type Store interface {
	CreateStage(ctx context.Context, st *Stage, keys []StreamKey) error
	DefaultStage(ctx context.Context) (*Stage, error)
	Stage(ctx context.Context, id string) (*Stage, error)
	Stages(ctx context.Context) ([]*Stage, error)
	UpdateStage(ctx context.Context, st *Stage) error
	StreamKeys(ctx context.Context, stageID string) ([]StreamKey, error)
	SetStreamKeys(ctx context.Context, stageID string, keys []StreamKey) error
	// KeyStage finds the stage a key belongs to and the key's holder.
	KeyStage(ctx context.Context, key string) (stageID, holder string, err error)
	// HolderKey is the key of stageID issued to holder (NotFound: none).
	HolderKey(ctx context.Context, stageID, holder string) (string, error)
	// SetHolderKey replaces holder's key of stageID (Conflict: another
	// was set meanwhile, or the key is taken).
	SetHolderKey(ctx context.Context, stageID, holder, key, comment string) error
	Setting(ctx context.Context, name string) (string, error)
	SetSetting(ctx context.Context, name, value string) error
	// DeleteSetting removes a setting (none is not an error).
	DeleteSetting(ctx context.Context, name string) error
	StartBroadcast(ctx context.Context, id, stageID string, at time.Time, details string) error
	EndBroadcast(ctx context.Context, id string, at time.Time, peak int) error
	AddViewerSample(ctx context.Context, stageID string, at time.Time, viewers int) error
	ViewerSamples(ctx context.Context, stageID string, since time.Time) ([]Sample, error)
	// DeleteStage removes a non-default stage and everything of it.
	DeleteStage(ctx context.Context, id string) error
	// Channel bindings: a community stage channel uses the stage of its own
	// id unless bound to another (ChannelStage: fault.NotFound when not).
	ChannelStage(ctx context.Context, channelID string) (string, error)
	SetChannelStage(ctx context.Context, channelID, stageID string) error
	ChannelsOfStage(ctx context.Context, stageID string) ([]string, error)
	// ClaimPublishLease takes (or renews) stageID's publish lease for
	// node's broadcast session until the given time when it is free,
	// expired (before now) or node's already, atomically across the
	// nodes sharing the store; it reports whether node holds it after.
	ClaimPublishLease(ctx context.Context, stageID, node, session string, now, until time.Time) (bool, error)
	// RenewPublishLease extends node's lease of stageID for session (or
	// takes it back once expired, when no one else did); false when the
	// lease is gone: released, or another node's. It makes no lease.
	RenewPublishLease(ctx context.Context, stageID, node, session string, now, until time.Time) (bool, error)
	// ReleasePublishLease drops node's lease of stageID for session.
	ReleasePublishLease(ctx context.Context, stageID, node, session string) error
}
