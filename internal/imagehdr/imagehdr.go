// Package imagehdr reads the size an uploaded image declares without
// decoding its pixels, for images the node stores and serves but browsers
// decode (custom emoji, logos, favicons).
package imagehdr

import (
	"bytes"
	"encoding/binary"
	"image"
	_ "image/gif"  // DecodeConfig for GIF
	_ "image/jpeg" // DecodeConfig for JPEG
	_ "image/png"  // DecodeConfig for PNG

	_ "golang.org/x/image/webp" // DecodeConfig for WebP
)

// Size is the width and height a browser may allocate for the image: what
// its header declares (image.DecodeConfig), and for a GIF the largest
// extent of any of its frames too, since a frame may reach past the
// logical screen and browsers may grow the image to hold it. err is non-nil
// when the header cannot be read.
func Size(data []byte) (w, h int, err error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, 0, err
	}
	w, h = cfg.Width, cfg.Height
	if format == "gif" {
		fw, fh := gifFrames(data)
		w, h = max(w, fw), max(h, fh)
	}
	return w, h, nil
}

// gifFrames walks a GIF's blocks, skipping their data, and returns the
// largest right and bottom edge of its frames. It stops at the trailer or
// at the first block it cannot read (where browsers stop too).
func gifFrames(b []byte) (w, h int) {
	const screen = 13 // header and logical screen descriptor
	if len(b) < screen {
		return 0, 0
	}
	i := screen
	if flags := b[10]; flags&0x80 != 0 {
		i += 3 << (flags&7 + 1) // global colour table
	}
	// skip skips data sub-blocks from i; -1 if they run past the end.
	skip := func(i int) int {
		for i < len(b) {
			n := int(b[i])
			i++
			if n == 0 {
				return i
			}
			i += n
		}
		return -1
	}
	for i >= 0 && i < len(b) {
		switch b[i] {
		case 0x21: // extension: label, then sub-blocks
			if i+2 > len(b) {
				return w, h
			}
			i = skip(i + 2)
		case 0x2c: // image descriptor
			if i+10 > len(b) {
				return w, h
			}
			left := int(binary.LittleEndian.Uint16(b[i+1:]))
			top := int(binary.LittleEndian.Uint16(b[i+3:]))
			w = max(w, left+int(binary.LittleEndian.Uint16(b[i+5:])))
			h = max(h, top+int(binary.LittleEndian.Uint16(b[i+7:])))
			flags := b[i+9]
			i += 10
			if flags&0x80 != 0 {
				i += 3 << (flags&7 + 1) // local colour table
			}
			i = skip(i + 1) // LZW minimum code size, then the data
		default: // 0x3b, the trailer, or something unreadable
			return w, h
		}
	}
	return w, h
}
