package hls

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OriginConfig configures one stage's HLS output.
type OriginConfig struct {
	Dir       string // e.g. <data>/hls/<stage>
	KeepExtra int    // segments kept on disk beyond the playlist (Owncast: 10)
	Log       *slog.Logger
	// OnSegment is called after each segment is stored (thumbnails,
	// latency measurement); it must not block for long.
	OnSegment func(variant int, path string, seg Segment)
}

// VariantSpec is what a broadcast needs per variant.
type VariantSpec struct {
	Bandwidth     int // bits/s estimate before any segment is measured
	Width, Height int
	Framerate     float64
}

// Origin holds a stage's variants and renders the master playlist.
type Origin struct {
	cfg OriginConfig
	log *slog.Logger

	mu         sync.RWMutex
	variants   []*Variant
	specs      []VariantSpec
	target     time.Duration
	upload     *Uploader
	s3base     string
	liveBase   string // s3base of the running broadcast (players of it fetch from there)
	serving    string // SetServingEndpoint's base URL ("": none)
	startOff   time.Duration
	partTarget time.Duration
}

// SetServingEndpoint puts a CDN (or any proxy that pulls from this node)
// in front of the origin's own HLS, as Owncast's videoServingEndpoint does
// without S3: while a broadcast is not offloaded to S3, the master
// playlist names its variants as absolute URLs under base
// (base/hls/<n>/stream.m3u8, Owncast's paths) instead of relative ones.
// It applies to the master playlist at once; "" turns it off.
func (o *Origin) SetServingEndpoint(base string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.serving = strings.TrimRight(base, "/")
}

// SetPartTarget turns LL-HLS parts on (d > 0) for later broadcasts.
func (o *Origin) SetPartTarget(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partTarget = d
}

// SetStartOffset makes later broadcasts' playlists carry
// #EXT-X-START:TIME-OFFSET (negative: from the live edge); 0 omits it.
func (o *Origin) SetStartOffset(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.startOff = d
}

// NewOrigin prepares the directory and an offline variant 0.
func NewOrigin(cfg OriginConfig) (*Origin, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.KeepExtra <= 0 {
		cfg.KeepExtra = 10
	}
	o := &Origin{cfg: cfg, log: cfg.Log}
	if err := o.reset(); err != nil {
		return nil, err
	}
	v, err := newVariant(0, filepath.Join(cfg.Dir, "0"), 1, cfg.KeepExtra, nil, nil, o.log)
	if err != nil {
		return nil, err
	}
	o.variants = []*Variant{v}
	o.specs = []VariantSpec{{Bandwidth: 500000}}
	return o, nil
}

// reset empties the directory (old segments from an earlier run).
func (o *Origin) reset() error {
	if err := os.MkdirAll(o.cfg.Dir, 0o750); err != nil {
		return fmt.Errorf("hls: %w", err)
	}
	ents, err := os.ReadDir(o.cfg.Dir)
	if err != nil {
		return fmt.Errorf("hls: %w", err)
	}
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() && n >= 0 {
			_ = os.RemoveAll(filepath.Join(o.cfg.Dir, e.Name()))
		}
	}
	return nil
}

// SetUploader turns S3 offload on (non-nil) or off for later broadcasts;
// the running one keeps the storage it started with.
func (o *Origin) SetUploader(u *Uploader, baseURL string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.upload, o.s3base = u, baseURL
}

// Begin starts a broadcast with one variant per spec: fresh directories and
// playlists. It returns one Segmenter per variant, to be fed MPEG-TS.
func (o *Origin) Begin(specs []VariantSpec, target time.Duration, listSize int) ([]*Segmenter, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("hls: no variants")
	}
	if err := o.reset(); err != nil {
		return nil, err
	}
	o.mu.RLock()
	up, off, base, pt := o.upload, o.startOff, o.s3base, o.partTarget
	o.mu.RUnlock()
	if up == nil {
		base = ""
	} else {
		pt = 0 // parts need blocking reloads from the origin; a bucket cannot
	}
	vs := make([]*Variant, len(specs))
	segs := make([]*Segmenter, len(specs))
	for i := range specs {
		v, err := newVariant(i, filepath.Join(o.cfg.Dir, strconv.Itoa(i)), listSize, o.cfg.KeepExtra, up, o.cfg.OnSegment, o.log)
		if err != nil {
			return nil, err
		}
		v.mu.Lock()
		v.offline, v.startOffset, v.partTarget = false, off, pt
		v.render()
		v.signal()
		v.mu.Unlock()
		vs[i] = v
		segs[i] = &Segmenter{Target: target, PartTarget: target / 5, Emit: v.Add}
		if pt > 0 {
			segs[i].PartTarget, segs[i].OnPart = pt, v.addPart
		}
	}
	o.mu.Lock()
	o.variants, o.specs, o.target, o.liveBase = vs, append([]VariantSpec(nil), specs...), target, base
	o.mu.Unlock()
	if up != nil {
		up.Put("stream.m3u8", o.Master(), PlaylistContentType, PlaylistCache)
	}
	return segs, nil
}

// UpdateSpec refines a variant's description (e.g. from onMetaData).
func (o *Origin) UpdateSpec(i int, s VariantSpec) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i >= 0 && i < len(o.specs) {
		o.specs[i] = s
	}
}

// End marks the broadcast over: every variant plays the offline clip.
func (o *Origin) End() {
	o.mu.RLock()
	vs := o.variants
	o.mu.RUnlock()
	for _, v := range vs {
		v.goOffline()
	}
}

// Variant returns variant i.
func (o *Origin) Variant(i int) (*Variant, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if i < 0 || i >= len(o.variants) {
		return nil, false
	}
	return o.variants[i], true
}

// Variants is the number of variants.
func (o *Origin) Variants() int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return len(o.variants)
}

// Master renders the master playlist. With S3 on, variant URIs are
// absolute URLs on the bucket's serving endpoint; without, on the
// origin's serving endpoint when it has one (SetServingEndpoint).
func (o *Origin) Master() []byte {
	o.mu.RLock()
	vs, specs, base := o.variants, o.specs, o.liveBase
	if base == "" {
		base = o.serving
	}
	o.mu.RUnlock()
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for i, v := range vs {
		codecs, bw := v.stats()
		sp := specs[i]
		if bw == 0 {
			bw = sp.Bandwidth
		}
		if bw <= 0 {
			bw = 500000
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d", bw)
		if sp.Width > 0 && sp.Height > 0 {
			fmt.Fprintf(&b, ",RESOLUTION=%dx%d", sp.Width, sp.Height)
		}
		if sp.Framerate > 0 {
			fmt.Fprintf(&b, ",FRAME-RATE=%.3f", sp.Framerate)
		}
		if codecs != "" {
			fmt.Fprintf(&b, ",CODECS=%q", codecs)
		}
		b.WriteString("\n")
		if base != "" {
			fmt.Fprintf(&b, "%s/hls/%d/stream.m3u8\n", base, i)
		} else {
			fmt.Fprintf(&b, "%d/stream.m3u8\n", i)
		}
	}
	return b.Bytes()
}

// Target is the current segment length.
func (o *Origin) Target() time.Duration {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.target
}
