package transcode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Output receives one variant's MPEG-TS (the HLS segmenter).
type Output interface {
	io.Writer
	// Discontinuity marks a break in the TS (an ffmpeg restart).
	Discontinuity()
}

// Config describes a pipeline.
type Config struct {
	FFmpegPath     string
	Codec          string
	SegmentSeconds int
	Variants       []Variant
	Outputs        []Output // one per variant, same order
	Log            *slog.Logger
	// Restart backoff bounds (defaults 250 ms and 10 s).
	MinBackoff, MaxBackoff time.Duration
	// OnRestart is called each time ffmpeg is restarted (tests, metrics).
	OnRestart func(err error)
	// OnStart is called with the pid of each ffmpeg child started.
	OnStart func(pid int)
}

// Pipeline feeds one published stream to its variants. Its methods are
// called from the ingest goroutine, one at a time.
type Pipeline struct {
	cfg    Config
	log    *slog.Logger
	remux  []*remuxOut
	sup    *supervisor
	cancel context.CancelFunc
	done   chan struct{}
}

type remuxOut struct {
	r      *Remuxer
	failed bool
}

// Start builds the pipeline and starts ffmpeg when a variant needs it.
func Start(ctx context.Context, cfg Config) (*Pipeline, error) {
	if len(cfg.Variants) == 0 || len(cfg.Variants) != len(cfg.Outputs) {
		return nil, errors.New("transcode: need one output per variant")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	p := &Pipeline{cfg: cfg, log: cfg.Log, remux: make([]*remuxOut, len(cfg.Variants)), done: make(chan struct{})}
	var tv []Variant
	var touts []Output
	for i, v := range cfg.Variants {
		if v.Remuxed() {
			p.remux[i] = &remuxOut{r: NewRemuxer(cfg.Outputs[i])}
			continue
		}
		tv = append(tv, v)
		touts = append(touts, cfg.Outputs[i])
	}
	if len(tv) == 0 {
		close(p.done)
		return p, nil
	}
	args, err := FFmpegArgs(cfg.Codec, cfg.SegmentSeconds, tv)
	if err != nil {
		return nil, err
	}
	if cfg.FFmpegPath == "" {
		return nil, errors.New("transcode: no ffmpeg path configured")
	}
	if _, err := exec.LookPath(cfg.FFmpegPath); err != nil {
		return nil, fmt.Errorf("transcode: ffmpeg %q not found: %w", cfg.FFmpegPath, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	p.sup = &supervisor{cfg: cfg, args: args, outs: touts, feed: make(chan flvTag, 2048), log: cfg.Log}
	go func() {
		defer close(p.done)
		p.sup.run(sctx)
	}()
	return p, nil
}

// Video passes one FLV video tag body on.
func (p *Pipeline) Video(ts uint32, tag []byte) {
	for i, r := range p.remux {
		if r == nil || r.failed {
			continue
		}
		if err := r.r.Video(ts, tag); err != nil {
			p.fail(i, r, err)
		}
	}
	if p.sup != nil {
		key := len(tag) > 0 && tag[0]>>4 == flvKeyframe
		seq := len(tag) > 1 && tag[0]&0xf == VideoCodecAVC && tag[1] == flvAVCSeqHdr
		p.sup.push(flvTag{typ: flvTagVideo, ts: ts, data: tag, key: key, seq: seq})
	}
}

// Audio passes one FLV audio tag body on.
func (p *Pipeline) Audio(ts uint32, tag []byte) {
	for i, r := range p.remux {
		if r == nil || r.failed {
			continue
		}
		if err := r.r.Audio(ts, tag); err != nil {
			p.fail(i, r, err)
		}
	}
	if p.sup != nil {
		seq := len(tag) > 1 && tag[0]>>4 == AudioCodecAAC && tag[1] == flvAACSeqHdr
		p.sup.push(flvTag{typ: flvTagAudio, ts: ts, data: tag, seq: seq})
	}
}

func (p *Pipeline) fail(i int, r *remuxOut, err error) {
	if errors.Is(err, ErrMedia) {
		r.failed = true
		p.log.Warn("passthrough variant stopped: the stream cannot be remuxed", "variant", i, "err", err)
		return
	}
	p.log.Warn("passthrough variant write failed", "variant", i, "err", err)
}

// Close ends the pipeline: ffmpeg's stdin is closed so it flushes, and it
// is killed if it has not exited within 5 s. Close waits for that.
func (p *Pipeline) Close() {
	if p.sup != nil {
		p.sup.closeFeed()
		select {
		case <-p.done:
		case <-time.After(6 * time.Second):
			p.cancel()
			<-p.done
		}
		p.cancel()
	}
}

type flvTag struct {
	typ      byte
	ts       uint32
	data     []byte
	key, seq bool
}

// supervisor runs ffmpeg, restarting it with backoff when it dies while
// the publisher is still there.
type supervisor struct {
	cfg  Config
	args []string
	outs []Output
	log  *slog.Logger

	mu       sync.Mutex
	feed     chan flvTag
	closed   bool
	dropping bool
	seqV     *flvTag
	seqA     *flvTag
}

func (s *supervisor) push(t flvTag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if t.seq {
		c := t
		if t.typ == flvTagVideo {
			s.seqV = &c
		} else {
			s.seqA = &c
		}
	}
	if s.dropping && !(t.typ == flvTagVideo && t.key) && !t.seq {
		return
	}
	select {
	case s.feed <- t:
		s.dropping = false
	default:
		// ffmpeg is not keeping up: drop until the next keyframe rather
		// than stall the publisher.
		s.dropping = true
	}
}

func (s *supervisor) closeFeed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.feed)
	}
}

func (s *supervisor) headers() []flvTag {
	s.mu.Lock()
	defer s.mu.Unlock()
	var h []flvTag
	if s.seqV != nil {
		h = append(h, *s.seqV)
	}
	if s.seqA != nil {
		h = append(h, *s.seqA)
	}
	return h
}

var errFeedClosed = errors.New("transcode: publisher left")

// Giving up: this many consecutive ffmpeg runs each dying within
// quickFailure of starting.
const (
	maxQuickFailures = 5
	quickFailure     = 5 * time.Second
)

func (s *supervisor) run(ctx context.Context) {
	backoff := s.cfg.MinBackoff
	quick := 0 // consecutive runs that died within quickFailure of starting
	for first := true; ; first = false {
		started := time.Now()
		err := s.once(ctx, !first)
		if errors.Is(err, errFeedClosed) || ctx.Err() != nil {
			return
		}
		if time.Since(started) < quickFailure {
			quick++
		} else {
			quick = 0
		}
		if quick >= maxQuickFailures {
			// A bad codec, path or setting: restarting will not help. The
			// transcoded variants stop; passthrough ones go on.
			s.log.Error("ffmpeg keeps failing at start; transcoded variants stopped for this broadcast", "err", err)
			s.closeFeed()
			for range s.feed {
			}
			return
		}
		s.log.Warn("ffmpeg exited while the stream is live; restarting", "err", err, "in", backoff)
		if s.cfg.OnRestart != nil {
			s.cfg.OnRestart(err)
		}
		if time.Since(started) > time.Minute {
			backoff = s.cfg.MinBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, s.cfg.MaxBackoff)
	}
}

// once runs one ffmpeg process until it exits or the feed ends.
func (s *supervisor) once(ctx context.Context, restart bool) error {
	cmd := exec.CommandContext(ctx, s.cfg.FFmpegPath, s.args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	DieWithParent(cmd)
	var readers []*os.File
	for range s.outs {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(readers)
			closeAll(cmd.ExtraFiles)
			return fmt.Errorf("pipe: %w", err)
		}
		readers = append(readers, r)
		cmd.ExtraFiles = append(cmd.ExtraFiles, w)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		closeAll(readers)
		closeAll(cmd.ExtraFiles)
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		closeAll(readers)
		closeAll(cmd.ExtraFiles)
		return err
	}
	if err := cmd.Start(); err != nil {
		closeAll(readers)
		closeAll(cmd.ExtraFiles)
		return fmt.Errorf("start ffmpeg: %w", err)
	}
	closeAll(cmd.ExtraFiles) // the child holds the write ends now
	if s.cfg.OnStart != nil {
		s.cfg.OnStart(cmd.Process.Pid)
	}
	var copies sync.WaitGroup
	for i, r := range readers {
		if restart {
			s.outs[i].Discontinuity()
		}
		copies.Add(1)
		go func() {
			defer copies.Done()
			defer r.Close()
			_, _ = io.Copy(s.outs[i], r)
		}()
	}
	copies.Add(1)
	go func() {
		defer copies.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.log.Warn("ffmpeg", "line", sc.Text())
		}
	}()
	exited := make(chan struct{})
	var waitErr error
	go func() {
		copies.Wait()
		waitErr = cmd.Wait()
		close(exited)
	}()
	feedErr := s.feedLoop(stdin, exited, restart)
	_ = stdin.Close()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
	if feedErr != nil {
		return feedErr
	}
	if waitErr == nil {
		waitErr = errors.New("ffmpeg exited")
	}
	return waitErr
}

// feedLoop writes FLV to ffmpeg until the feed closes (errFeedClosed) or
// ffmpeg exits (nil).
func (s *supervisor) feedLoop(stdin io.Writer, exited <-chan struct{}, restart bool) error {
	if _, err := stdin.Write(flvHeader[:]); err != nil {
		return nil
	}
	waitKey := restart
	if restart {
		for _, h := range s.headers() {
			if err := writeFLVTag(stdin, h.typ, h.ts, h.data); err != nil {
				return nil
			}
		}
	}
	for {
		select {
		case <-exited:
			return nil
		case t, ok := <-s.feed:
			if !ok {
				return errFeedClosed
			}
			if waitKey && !t.seq {
				if !(t.typ == flvTagVideo && t.key) {
					continue
				}
				waitKey = false
			}
			if err := writeFLVTag(stdin, t.typ, t.ts, t.data); err != nil {
				// ffmpeg is gone; wait for its exit to be noticed.
				<-exited
				return nil
			}
		}
	}
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
