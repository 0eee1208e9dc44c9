// Package imagehdr reads the size an uploaded image declares without
// decoding its pixels, for images the node stores and serves but browsers
// decode (custom emoji, logos, favicons, attached images).
package imagehdr

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"image"
	_ "image/gif"  // DecodeConfig for GIF
	_ "image/jpeg" // DecodeConfig for JPEG
	_ "image/png"  // DecodeConfig for PNG
	"io"

	_ "golang.org/x/image/webp" // DecodeConfig for WebP
)

// Size is the width and height a browser may allocate for the image: what
// its header declares (image.DecodeConfig), and for a GIF the largest
// extent of any of its frames too, since a frame may reach past the
// logical screen and browsers may grow the image to hold it. err is non-nil
// when the header cannot be read.
func Size(data []byte) (w, h int, err error) {
	return SizeOf(bytes.NewReader(data))
}

// SizeOf is Size for an image read from r (a stored upload too large to
// hold in memory): it reads the header, and a GIF's blocks once more from
// the start, skipping their data.
func SizeOf(r io.ReadSeeker) (w, h int, err error) {
	cfg, format, err := image.DecodeConfig(bufio.NewReader(r))
	if err != nil {
		// Go's PNG reader refuses an IHDR whose checksum is wrong; a
		// browser's may not, and decodes the size it declares all the same.
		if w, h, ok := pngDeclared(r); ok {
			return w, h, nil
		}
		// Go's JPEG reader takes baseline and progressive frames only; a
		// browser's also decodes others (arithmetic coding), at the size
		// their frame header declares.
		if w, h, ok := jpegDeclared(r); ok {
			return w, h, nil
		}
		return 0, 0, err
	}
	w, h = cfg.Width, cfg.Height
	if format == "gif" {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return 0, 0, err
		}
		fw, fh := gifFrames(bufio.NewReader(r))
		w, h = max(w, fw), max(h, fh)
	}
	return w, h, nil
}

// gifFrames walks a GIF's blocks, skipping their data, and returns the
// largest right and bottom edge of its frames. It stops at the trailer or
// at the first block it cannot read (where browsers stop too).
func gifFrames(b *bufio.Reader) (w, h int) {
	var screen [13]byte // header and logical screen descriptor
	if _, err := io.ReadFull(b, screen[:]); err != nil {
		return 0, 0
	}
	if flags := screen[10]; flags&0x80 != 0 {
		if _, err := b.Discard(3 << (flags&7 + 1)); err != nil { // global colour table
			return 0, 0
		}
	}
	// skip skips data sub-blocks; false if they run past the end.
	skip := func() bool {
		for {
			n, err := b.ReadByte()
			if err != nil {
				return false
			}
			if n == 0 {
				return true
			}
			if _, err := b.Discard(int(n)); err != nil {
				return false
			}
		}
	}
	var d [9]byte
	for {
		kind, err := b.ReadByte()
		if err != nil {
			return w, h
		}
		switch kind {
		case 0x21: // extension: label, then sub-blocks
			if _, err := b.ReadByte(); err != nil || !skip() {
				return w, h
			}
		case 0x2c: // image descriptor
			if _, err := io.ReadFull(b, d[:]); err != nil {
				return w, h
			}
			left := int(binary.LittleEndian.Uint16(d[0:]))
			top := int(binary.LittleEndian.Uint16(d[2:]))
			w = max(w, left+int(binary.LittleEndian.Uint16(d[4:])))
			h = max(h, top+int(binary.LittleEndian.Uint16(d[6:])))
			flags := d[8]
			if flags&0x80 != 0 {
				if _, err := b.Discard(3 << (flags&7 + 1)); err != nil { // local colour table
					return w, h
				}
			}
			// LZW minimum code size, then the data
			if _, err := b.ReadByte(); err != nil || !skip() {
				return w, h
			}
		default: // 0x3b, the trailer, or something unreadable
			return w, h
		}
	}
}

// pngDeclared reads the size a PNG's IHDR declares, its checksum unchecked.
func pngDeclared(r io.ReadSeeker) (w, h int, ok bool) {
	var b [24]byte
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return 0, 0, false
	}
	if _, err := io.ReadFull(r, b[:]); err != nil || string(b[:8]) != "\x89PNG\r\n\x1a\n" || string(b[12:16]) != "IHDR" {
		return 0, 0, false
	}
	return int(binary.BigEndian.Uint32(b[16:])), int(binary.BigEndian.Uint32(b[20:])), true
}

// jpegDeclared reads the size the first frame header of a JPEG declares,
// whatever its coding (SOF0 to SOF15, and a hierarchical image's DHP): the
// marker segments before the first scan, skipped by their lengths. A frame
// whose height is left to a later DNL marker is not read.
func jpegDeclared(r io.ReadSeeker) (w, h int, ok bool) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return 0, 0, false
	}
	b := bufio.NewReader(r)
	var soi [2]byte
	if _, err := io.ReadFull(b, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return 0, 0, false
	}
	for {
		c, err := b.ReadByte()
		if err != nil || c != 0xff {
			return 0, 0, false
		}
		m := byte(0xff)
		for m == 0xff { // fill bytes
			if m, err = b.ReadByte(); err != nil {
				return 0, 0, false
			}
		}
		switch {
		case m == 0x01 || m >= 0xd0 && m <= 0xd8: // TEM, RSTn, SOI: no length
			continue
		case m == 0xd9 || m == 0xda: // EOI, or the first scan: no frame
			return 0, 0, false
		}
		var l [2]byte
		if _, err := io.ReadFull(b, l[:]); err != nil {
			return 0, 0, false
		}
		n := int(binary.BigEndian.Uint16(l[:])) - 2
		if n < 0 {
			return 0, 0, false
		}
		if m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc || m == 0xde { // SOFn, DHP
			var f [5]byte // precision, height, width
			if n < len(f) {
				return 0, 0, false
			}
			if _, err := io.ReadFull(b, f[:]); err != nil {
				return 0, 0, false
			}
			h, w = int(binary.BigEndian.Uint16(f[1:])), int(binary.BigEndian.Uint16(f[3:]))
			return w, h, w > 0 && h > 0
		}
		if _, err := b.Discard(n); err != nil {
			return 0, 0, false
		}
	}
}
