package hls

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OfflineClip is the short black clip players get while a stage is offline.
// It is served from memory (the surfaces serve OfflineName from it), never
// copied into a stage's directory: every stage channel has a directory,
// and any member may make hundreds of them.
//
//go:embed offline.ts
var OfflineClip []byte

// offlineDuration is OfflineClip's length.
const offlineDuration = 2 * time.Second

// Content types and cache policies (Owncast's).
const (
	PlaylistContentType = "application/x-mpegURL"
	SegmentContentType  = "video/mp2t"
	PlaylistCache       = "no-cache, no-store, must-revalidate"
	SegmentCache        = "public, max-age=31557600"
	OfflineName         = "offline.ts"
)

type entry struct {
	seq   int
	name  string
	dur   time.Duration
	start time.Time
	disc  bool
	size  int
}

// Variant is one rendition's media playlist and segment files.
type Variant struct {
	index     int
	dir       string
	listSize  int
	keepExtra int
	log       *slog.Logger
	upload    *Uploader
	onSegment func(index int, path string, seg Segment)

	mu          sync.RWMutex
	shortID     string
	entries     []entry // newest last; the playlist shows the last listSize
	onDisk      []entry // files still on disk (listSize + keepExtra)
	nextSeq     int
	discSeq     int
	offline     bool
	playlist    []byte
	codecs      string
	bandwidth   int // measured peak, bits/s
	startOffset time.Duration
	// LL-HLS (llhls.go): parts of the open segment and of the last
	// finished ones, and a channel closed on every change.
	partTarget time.Duration
	open       []llPart
	done       map[int][]llPart
	changed    chan struct{}
}

func newVariant(index int, dir string, listSize, keepExtra int, up *Uploader, onSeg func(int, string, Segment), log *slog.Logger) (*Variant, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("hls: %w", err)
	}
	v := &Variant{index: index, dir: dir, listSize: max(listSize, 1), keepExtra: keepExtra, upload: up, onSegment: onSeg, log: log}
	v.reset()
	// A copy of the offline clip that an earlier version kept here.
	_ = os.Remove(filepath.Join(dir, OfflineName))
	v.mu.Lock()
	v.offline = true
	v.render()
	v.mu.Unlock()
	return v, nil
}

func (v *Variant) reset() {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.shortID = hex.EncodeToString(b)
	v.offline = false
}

// Add stores a finished segment: the file, the playlist, cleanup, upload.
// It is the segmenter's Emit.
func (v *Variant) Add(seg Segment) {
	v.mu.Lock()
	seq := v.nextSeq
	v.finishParts(seq)
	v.nextSeq++
	name := "stream-" + v.shortID + "-" + strconv.Itoa(seq) + ".ts"
	disc := seg.Discontinuity || v.offline || (len(v.entries) > 0 && seq == 0)
	if v.offline {
		v.offline = false
	}
	v.mu.Unlock()
	path := filepath.Join(v.dir, name)
	if err := writeFileAtomic(path, seg.Data); err != nil {
		v.log.Warn("hls: cannot write segment", "err", err)
		return
	}
	e := entry{seq: seq, name: name, dur: seg.Duration, start: seg.Start, disc: disc, size: len(seg.Data)}
	v.mu.Lock()
	v.entries = append(v.entries, e)
	v.onDisk = append(v.onDisk, e)
	if n := len(v.entries) - v.listSize; n > 0 {
		for _, old := range v.entries[:n] {
			if old.disc {
				v.discSeq++
			}
		}
		v.entries = append([]entry(nil), v.entries[n:]...)
	}
	var drop []entry
	if n := len(v.onDisk) - v.listSize - v.keepExtra; n > 0 {
		drop = append(drop, v.onDisk[:n]...)
		v.onDisk = append([]entry(nil), v.onDisk[n:]...)
	}
	if v.codecs == "" {
		v.codecs = sniffCodecs(seg.Data)
	}
	if secs := seg.Duration.Seconds(); secs > 0.2 {
		if bw := int(float64(len(seg.Data)*8) / secs); bw > v.bandwidth {
			v.bandwidth = bw
		}
	}
	v.render()
	v.signal()
	pl := v.playlist
	v.mu.Unlock()
	for _, d := range drop {
		_ = os.Remove(filepath.Join(v.dir, d.name))
	}
	if v.upload != nil {
		prefix := strconv.Itoa(v.index) + "/"
		v.upload.Put(prefix+name, seg.Data, SegmentContentType, SegmentCache)
		v.upload.Put(prefix+"stream.m3u8", pl, PlaylistContentType, PlaylistCache)
		for _, d := range drop {
			v.upload.Delete(prefix + d.name)
		}
	}
	if v.onSegment != nil {
		v.onSegment(v.index, path, seg)
	}
}

// goOffline appends the offline clip after the last live segment.
func (v *Variant) goOffline() {
	v.mu.Lock()
	v.offline = true
	v.open, v.done = nil, nil
	v.render()
	v.signal()
	pl := v.playlist
	v.mu.Unlock()
	if v.upload != nil {
		prefix := strconv.Itoa(v.index) + "/"
		v.upload.Put(prefix+OfflineName, OfflineClip, SegmentContentType, SegmentCache)
		v.upload.Put(prefix+"stream.m3u8", pl, PlaylistContentType, PlaylistCache)
	}
}

// render rebuilds the media playlist; v.mu must be held.
func (v *Variant) render() {
	var b bytes.Buffer
	target := 1
	for _, e := range v.entries {
		target = max(target, int(math.Ceil(e.dur.Seconds()-0.001)))
	}
	if v.offline {
		target = max(target, int(offlineDuration/time.Second))
	}
	ll := v.partTarget > 0 && !v.offline
	if ll {
		b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n")
		v.renderLLHeader(&b)
	} else {
		b.WriteString("#EXTM3U\n#EXT-X-VERSION:6\n")
	}
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", target)
	first := v.nextSeq - len(v.entries)
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	if v.discSeq > 0 {
		fmt.Fprintf(&b, "#EXT-X-DISCONTINUITY-SEQUENCE:%d\n", v.discSeq)
	}
	b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n")
	if v.startOffset != 0 && !v.offline {
		fmt.Fprintf(&b, "#EXT-X-START:TIME-OFFSET=%.3f\n", v.startOffset.Seconds())
	}
	for _, e := range v.entries {
		if e.disc {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		if !e.start.IsZero() {
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", e.start.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		}
		if ll {
			writeParts(&b, v.done[e.seq])
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n", e.dur.Seconds(), e.name)
	}
	if ll {
		v.renderOpen(&b)
	}
	if v.offline {
		if len(v.entries) > 0 {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n#EXT-X-ENDLIST\n", offlineDuration.Seconds(), OfflineName)
	}
	v.playlist = b.Bytes()
}

// Playlist is the current media playlist.
func (v *Variant) Playlist() []byte {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.playlist
}

// SegmentPath returns the file of a segment named in a playlist, or false
// for any other name (so a request can never reach another file). The
// offline clip (OfflineName) has no file: it is OfflineClip.
func (v *Variant) SegmentPath(name string) (string, bool) {
	if !strings.HasPrefix(name, "stream-") || !strings.HasSuffix(name, ".ts") {
		return "", false
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, e := range v.onDisk {
		if e.name == name {
			return filepath.Join(v.dir, name), true
		}
	}
	return "", false
}

// Newest returns the path of the newest segment, if any.
func (v *Variant) Newest() (string, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if len(v.entries) == 0 || v.offline {
		return "", false
	}
	return filepath.Join(v.dir, v.entries[len(v.entries)-1].name), true
}

func (v *Variant) stats() (codecs string, bandwidth int) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.codecs, v.bandwidth
}

// SegmentCount is the number of segments listed in the playlist.
func (v *Variant) SegmentCount() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.entries)
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// sniffCodecs finds the H.264 SPS in a segment and returns the RFC 6381
// codecs string (with AAC-LC when an audio PES is present).
func sniffCodecs(ts []byte) string {
	var video string
	for i := 0; i+7 < len(ts); i++ {
		if ts[i] == 0 && ts[i+1] == 0 && ts[i+2] == 1 && ts[i+3]&0x1f == 7 && ts[i+3]&0x80 == 0 {
			video = fmt.Sprintf("avc1.%02x%02x%02x", ts[i+4], ts[i+5], ts[i+6])
			break
		}
	}
	audio := bytes.Contains(ts, []byte{0, 0, 1, 0xc0})
	switch {
	case video != "" && audio:
		return video + ",mp4a.40.2"
	case video != "":
		return video
	case audio:
		return "mp4a.40.2"
	}
	return ""
}
