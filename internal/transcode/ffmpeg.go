package transcode

import (
	"fmt"
	"strconv"
)

// Variant is one output rendition (Owncast's StreamOutputVariant).
type Variant struct {
	VideoPassthrough bool
	AudioPassthrough bool
	VideoBitrate     int // kbps
	AudioBitrate     int // kbps; 0 means audio passthrough
	ScaledWidth      int // 0: keep (or follow the height's aspect ratio)
	ScaledHeight     int
	Framerate        int // 0: 24
	CPUUsageLevel    int // 0 (least CPU) … 4 (best quality)
}

// Remuxed reports whether the variant needs no ffmpeg at all: video and
// audio both copied, which Hearth does in Go.
func (v Variant) Remuxed() bool {
	return v.VideoPassthrough && (v.AudioPassthrough || v.AudioBitrate == 0)
}

// Codecs Owncast offers for video/codec, with the hardware ones mapped to
// ffmpeg encoders; libx264 is the default and the only one every Debian
// ffmpeg has.
var presetByLevel = [...]string{"ultrafast", "superfast", "veryfast", "faster", "fast"}

// FFmpegArgs builds the argument list (never a shell string) for one ffmpeg
// child that reads FLV on stdin and writes variant i of vs to file
// descriptor 3+i as MPEG-TS. Only non-remuxed variants should be passed.
func FFmpegArgs(codec string, segmentSeconds int, vs []Variant) ([]string, error) {
	if len(vs) == 0 {
		return nil, fmt.Errorf("transcode: no variants to transcode")
	}
	if segmentSeconds < 1 {
		segmentSeconds = 1
	}
	if codec == "" {
		codec = "libx264"
	}
	args := []string{"-hide_banner", "-loglevel", "warning", "-nostdin", "-fflags", "+genpts", "-f", "flv", "-i", "pipe:0"}
	for i, v := range vs {
		args = append(args, "-map", "0:v:0?", "-map", "0:a:0?")
		if v.VideoPassthrough {
			args = append(args, "-c:v", "copy")
		} else {
			fps := v.Framerate
			if fps <= 0 {
				fps = 24
			}
			br := v.VideoBitrate
			if br <= 0 {
				br = 1200
			}
			maxrate := br * 108 / 100
			gop := strconv.Itoa(fps * segmentSeconds)
			args = append(args, "-c:v", codec,
				"-b:v", strconv.Itoa(br)+"k", "-maxrate", strconv.Itoa(maxrate)+"k", "-bufsize", strconv.Itoa(maxrate)+"k",
				"-r", strconv.Itoa(fps), "-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-pix_fmt", "yuv420p")
			if codec == "libx264" {
				lvl := v.CPUUsageLevel
				if lvl < 0 || lvl >= len(presetByLevel) {
					lvl = 2
				}
				args = append(args, "-preset", presetByLevel[lvl], "-tune", "zerolatency", "-profile:v", "high",
					"-x264-params", "scenecut=0:open_gop=0")
			}
			if v.ScaledWidth > 0 || v.ScaledHeight > 0 {
				// H.264 needs even sizes; -2 follows the aspect ratio.
				w, h := v.ScaledWidth&^1, v.ScaledHeight&^1
				if w <= 0 {
					w = -2
				}
				if h <= 0 {
					h = -2
				}
				args = append(args, "-vf", fmt.Sprintf("scale=%d:%d", w, h))
			}
		}
		if v.AudioPassthrough || v.AudioBitrate <= 0 {
			args = append(args, "-c:a", "copy")
		} else {
			args = append(args, "-c:a", "aac", "-b:a", strconv.Itoa(v.AudioBitrate)+"k")
		}
		args = append(args, "-f", "mpegts", "-muxdelay", "0", "pipe:"+strconv.Itoa(3+i))
	}
	return args, nil
}
