package hls

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Low-latency HLS: while a variant has a part target, each part of the
// open segment is published as soon as the segmenter closes it
// (#EXT-X-PART, served from memory as stream-<id>-<seq>.<i>.ts), the
// playlist announces the next part (#EXT-X-PRELOAD-HINT), and playlist and
// part requests may block until what they ask for exists
// (CAN-BLOCK-RELOAD, _HLS_msn / _HLS_part). Full segments are listed as
// before, so players without LL-HLS see an ordinary playlist.

type llPart struct {
	name  string
	dur   time.Duration
	indep bool
	data  []byte
}

// keptPartSegments is how many finished segments keep their parts listed.
const keptPartSegments = 3

// addPart is the segmenter's OnPart.
func (v *Variant) addPart(p Part, data []byte) {
	v.mu.Lock()
	name := "stream-" + v.shortID + "-" + strconv.Itoa(v.nextSeq) + "." + strconv.Itoa(len(v.open)) + ".ts"
	v.open = append(v.open, llPart{name: name, dur: p.Duration, indep: p.Independent, data: data})
	v.render()
	v.signal()
	v.mu.Unlock()
}

// finishParts moves the open parts to the segment seq that just finished;
// v.mu held.
func (v *Variant) finishParts(seq int) {
	if v.partTarget <= 0 {
		return
	}
	if v.done == nil {
		v.done = map[int][]llPart{}
	}
	v.done[seq] = v.open
	v.open = nil
	for s := range v.done {
		if s <= seq-keptPartSegments {
			delete(v.done, s)
		}
	}
}

// signal wakes blocked requests; v.mu held.
func (v *Variant) signal() {
	if v.changed != nil {
		close(v.changed)
	}
	v.changed = make(chan struct{})
}

// renderLLHeader writes the LL-HLS playlist tags; v.mu held.
func (v *Variant) renderLLHeader(b *bytes.Buffer) {
	fmt.Fprintf(b, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%.3f\n", 3*v.partTarget.Seconds())
	fmt.Fprintf(b, "#EXT-X-PART-INF:PART-TARGET=%.3f\n", v.partTarget.Seconds())
}

func writeParts(b *bytes.Buffer, ps []llPart) {
	for _, p := range ps {
		fmt.Fprintf(b, "#EXT-X-PART:DURATION=%.3f,URI=%q", p.dur.Seconds(), p.name)
		if p.indep {
			b.WriteString(",INDEPENDENT=YES")
		}
		b.WriteString("\n")
	}
}

// renderOpen writes the open segment's parts and the preload hint; v.mu held.
func (v *Variant) renderOpen(b *bytes.Buffer) {
	writeParts(b, v.open)
	fmt.Fprintf(b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"stream-%s-%d.%d.ts\"\n", v.shortID, v.nextSeq, len(v.open))
}

// has reports whether segment msn (and, part >= 0, its part) is listed;
// v.mu held.
func (v *Variant) has(msn, part int) bool {
	if msn < v.nextSeq {
		return true
	}
	return msn == v.nextSeq && part >= 0 && part < len(v.open)
}

// LowLatency reports whether the variant publishes parts.
func (v *Variant) LowLatency() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.partTarget > 0 && !v.offline
}

// ErrTooFar is returned for a blocking request more than two segments
// ahead of the playlist.
var ErrTooFar = fmt.Errorf("hls: requested segment is too far in the future")

// WaitPlaylist blocks until the playlist lists segment msn (with part
// part, or -1 for the whole segment) or ctx ends, then returns the
// playlist (the current one on timeout, as the spec allows).
func (v *Variant) WaitPlaylist(ctx context.Context, msn, part int) ([]byte, error) {
	for {
		v.mu.RLock()
		if msn > v.nextSeq+2 {
			v.mu.RUnlock()
			return nil, ErrTooFar
		}
		ok := v.offline || v.has(msn, part)
		pl, ch := v.playlist, v.changed
		v.mu.RUnlock()
		if ok || ch == nil {
			return pl, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return pl, nil
		}
	}
}

// parsePartName splits stream-<id>-<seq>.<i>.ts.
func parsePartName(name string) (id string, seq, idx int, ok bool) {
	rest, found := strings.CutPrefix(name, "stream-")
	if !found {
		return "", 0, 0, false
	}
	rest, found = strings.CutSuffix(rest, ".ts")
	if !found {
		return "", 0, 0, false
	}
	dash := strings.LastIndexByte(rest, '-')
	if dash < 0 {
		return "", 0, 0, false
	}
	id = rest[:dash]
	if id == "" || strings.Trim(id, "0123456789abcdef") != "" { // short ids are hex
		return "", 0, 0, false
	}
	nums := strings.Split(rest[dash+1:], ".")
	if len(nums) != 2 {
		return "", 0, 0, false
	}
	seq, err1 := strconv.Atoi(nums[0])
	idx, err2 := strconv.Atoi(nums[1])
	if err1 != nil || err2 != nil || seq < 0 || idx < 0 {
		return "", 0, 0, false
	}
	return id, seq, idx, true
}

// IsPartName reports whether name has the form of a part.
func IsPartName(name string) bool {
	_, _, _, ok := parsePartName(name)
	return ok
}

// WaitPart returns a part's bytes, waiting (until ctx ends) for the one
// the preload hint announced.
func (v *Variant) WaitPart(ctx context.Context, name string) ([]byte, bool) {
	id, seq, idx, ok := parsePartName(name)
	if !ok {
		return nil, false
	}
	for {
		v.mu.RLock()
		if id != v.shortID || v.partTarget <= 0 {
			v.mu.RUnlock()
			return nil, false
		}
		var data []byte
		switch {
		case seq == v.nextSeq && idx < len(v.open):
			data = v.open[idx].data
		case seq < v.nextSeq:
			if ps := v.done[seq]; idx < len(ps) {
				data = ps[idx].data
			}
			if data == nil {
				v.mu.RUnlock()
				return nil, false // gone, or never was
			}
		case seq > v.nextSeq || idx > len(v.open):
			v.mu.RUnlock()
			return nil, false // not the next part: never wait for those
		}
		ch := v.changed
		v.mu.RUnlock()
		if data != nil {
			return data, true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false
		}
	}
}
