package rtcav

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"github.com/hearth-community/hearth/internal/transcode"
)

// AACFrameSamples is the number of samples in one AAC-LC frame.
const AACFrameSamples = 1024

// bridge is one audio-only ffmpeg child: bytes in on stdin, bytes out on
// stdout, read by a goroutine until ffmpeg exits.
type bridge struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	done  chan struct{}
	err   error
}

func startBridge(ctx context.Context, ffmpeg string, args []string, log *slog.Logger, read func(io.Reader) error) (*bridge, error) {
	if ffmpeg == "" {
		ffmpeg = "ffmpeg"
	}
	cmd := exec.CommandContext(ctx, ffmpeg, args...)
	transcode.DieWithParent(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logWriter{log}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rtcav: start ffmpeg: %w", err)
	}
	b := &bridge{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		rerr := read(bufio.NewReaderSize(stdout, 64<<10))
		_, _ = io.Copy(io.Discard, stdout)
		werr := cmd.Wait()
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			b.err = rerr
		} else if werr != nil && ctx.Err() == nil {
			b.err = werr
		}
	}()
	return b, nil
}

func (b *bridge) write(p []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, err := b.stdin.Write(p)
	return err
}

// close ends ffmpeg's input and waits for it to finish.
func (b *bridge) close() error {
	b.mu.Lock()
	_ = b.stdin.Close()
	b.mu.Unlock()
	<-b.done
	return b.err
}

type logWriter struct{ log *slog.Logger }

func (l logWriter) Write(p []byte) (int, error) {
	if l.log != nil {
		l.log.Warn("ffmpeg (audio)", "out", string(p))
	}
	return len(p), nil
}

// OpusToAAC transcodes a WebRTC publisher's Opus RTP to AAC FLV tags for
// the HLS pipeline: the packets go into Ogg on ffmpeg's stdin; ADTS comes
// back and is split into frames. Gaps in the RTP timestamps (DTX, loss)
// are filled with silence, so frame n starts at sample n·1024 of 48 kHz
// from the first packet.
type OpusToAAC struct {
	b   *bridge
	ogg *oggwriter.OggWriter
}

// StartOpusToAAC starts the transcoder; onTag receives the AAC sequence
// header (sample 0) and then each raw AAC frame tag with its first sample's
// offset at 48 kHz. It is called from one goroutine.
func StartOpusToAAC(ctx context.Context, ffmpeg string, bitrateKbps int, log *slog.Logger, onTag func(sample int64, tag []byte)) (*OpusToAAC, error) {
	if bitrateKbps <= 0 {
		bitrateKbps = 128
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-probesize", "32", "-analyzeduration", "0",
		"-fflags", "nobuffer", "-f", "ogg", "-i", "pipe:0", "-af", "aresample=async=1", "-ar", "48000",
		"-c:a", "aac", "-b:a", fmt.Sprint(bitrateKbps, "k"), "-flush_packets", "1", "-f", "adts", "pipe:1"}
	b, err := startBridge(ctx, ffmpeg, args, log, func(r io.Reader) error { return readADTS(r, onTag) })
	if err != nil {
		return nil, err
	}
	o := &OpusToAAC{b: b}
	w, err := oggwriter.NewWith(writerFunc(b.write), 48000, 2)
	if err != nil {
		_ = b.close()
		return nil, err
	}
	o.ogg = w
	return o, nil
}

// Write passes one Opus RTP packet on.
func (o *OpusToAAC) Write(p *rtp.Packet) error { return o.ogg.WriteRTP(p) }

// Close flushes and stops ffmpeg; remaining frames reach onTag first.
func (o *OpusToAAC) Close() error { return o.b.close() }

type writerFunc func([]byte) error

func (f writerFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// readADTS splits ADTS into FLV AAC tags.
func readADTS(r io.Reader, onTag func(int64, []byte)) error {
	var hdr [9]byte
	var n int64
	sentCfg := false
	for {
		if _, err := io.ReadFull(r, hdr[:7]); err != nil {
			return err
		}
		if hdr[0] != 0xff || hdr[1]&0xf0 != 0xf0 {
			return fmt.Errorf("rtcav: lost ADTS sync")
		}
		hl := 7
		if hdr[1]&1 == 0 { // CRC present
			hl = 9
			if _, err := io.ReadFull(r, hdr[7:9]); err != nil {
				return err
			}
		}
		fl := int(hdr[3]&3)<<11 | int(hdr[4])<<3 | int(hdr[5]>>5)
		if fl < hl {
			return fmt.Errorf("rtcav: bad ADTS frame length %d", fl)
		}
		raw := make([]byte, 2+fl-hl)
		raw[0], raw[1] = 0xaf, 1
		if _, err := io.ReadFull(r, raw[2:]); err != nil {
			return err
		}
		if !sentCfg {
			obj := int(hdr[2]>>6) + 1
			sr := int(hdr[2]>>2) & 0xf
			ch := int(hdr[2]&1)<<2 | int(hdr[3]>>6)
			asc := uint16(obj<<11 | sr<<7 | ch<<3)
			onTag(0, binary.BigEndian.AppendUint16([]byte{0xaf, 0}, asc))
			sentCfg = true
		}
		onTag(n*AACFrameSamples, raw)
		n++
	}
}

// AACToOpus transcodes an RTMP publisher's AAC (FLV tags) to Opus packets
// for WebRTC viewers: ADTS on ffmpeg's stdin, Ogg Opus with one 20 ms
// packet per page back. One runs per stage, whatever the number of
// viewers.
type AACToOpus struct {
	b   *bridge
	cfg *transcode.AACConfig
	buf []byte
}

// OpusFrameMS is the duration of the Opus packets AACToOpus makes.
const OpusFrameMS = 20

// StartAACToOpus starts the transcoder; onPacket receives each Opus packet
// (OpusFrameMS long) from one goroutine.
func StartAACToOpus(ctx context.Context, ffmpeg string, log *slog.Logger, onPacket func([]byte)) (*AACToOpus, error) {
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-probesize", "32", "-analyzeduration", "0",
		"-fflags", "nobuffer", "-f", "aac", "-i", "pipe:0", "-ar", "48000", "-ac", "2",
		"-c:a", "libopus", "-b:a", "96k", "-frame_duration", fmt.Sprint(OpusFrameMS), "-application", "lowdelay",
		"-flush_packets", "1", "-page_duration", "20000", "-f", "ogg", "pipe:1"}
	b, err := startBridge(ctx, ffmpeg, args, log, func(r io.Reader) error { return readOggOpus(r, onPacket) })
	if err != nil {
		return nil, err
	}
	return &AACToOpus{b: b}, nil
}

// Write passes one FLV audio tag body on (non-AAC audio is refused).
func (a *AACToOpus) Write(tag []byte) error {
	t, err := transcode.ParseAudioTag(tag)
	if err != nil {
		return err
	}
	if t.Format != transcode.AudioCodecAAC {
		return fmt.Errorf("rtcav: audio format %d is not AAC", t.Format)
	}
	if t.PacketTyp == 0 {
		c, err := transcode.ParseAACConfig(t.Data)
		if err != nil {
			return err
		}
		a.cfg = c
		return nil
	}
	if a.cfg == nil || len(t.Data) == 0 {
		return nil
	}
	a.buf = a.cfg.ADTSHeader(a.buf[:0], len(t.Data))
	a.buf = append(a.buf, t.Data...)
	return a.b.write(a.buf)
}

// Close stops ffmpeg.
func (a *AACToOpus) Close() error { return a.b.close() }

// readOggOpus reads Ogg pages and hands on the Opus audio packets (the two
// header packets, OpusHead and OpusTags, are skipped).
func readOggOpus(r io.Reader, onPacket func([]byte)) error {
	var hdr [27]byte
	var lacing [255]byte
	var pkt []byte
	skip := 2
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		if string(hdr[:4]) != "OggS" {
			return fmt.Errorf("rtcav: lost Ogg sync")
		}
		ns := int(hdr[26])
		if _, err := io.ReadFull(r, lacing[:ns]); err != nil {
			return err
		}
		for _, l := range lacing[:ns] {
			seg := make([]byte, l)
			if _, err := io.ReadFull(r, seg); err != nil {
				return err
			}
			pkt = append(pkt, seg...)
			if l == 255 {
				continue // the packet goes on in the next segment
			}
			if skip > 0 {
				skip--
			} else if len(pkt) > 0 {
				onPacket(pkt)
			}
			pkt = nil
		}
	}
}
