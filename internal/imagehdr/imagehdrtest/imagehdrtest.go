// Package imagehdrtest builds image headers that declare a size, for tests
// of the routes that bound what an upload declares (internal/imagehdr).
package imagehdrtest

import (
	"encoding/binary"
	"hash/crc32"
)

// PNG is the start of a PNG that declares w×h pixels: the signature and its
// IHDR chunk, all a reader of its size looks at. A few hundred bytes of such
// a file is what a client is asked to decode into w×h×4.
func PNG(w, h uint32) []byte {
	ihdr := make([]byte, 0, 17)
	ihdr = append(ihdr, "IHDR"...)
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d")
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// PNGBadCRC is PNG with a wrong checksum on its IHDR: Go's decoder refuses
// it, a browser's may still read the size it declares.
func PNGBadCRC(w, h uint32) []byte {
	b := PNG(w, h)
	b[len(b)-1] ^= 0xff
	return b
}

// GIF is a GIF whose logical screen declares w×h pixels.
func GIF(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0, ';')
}

// GIFFrameBomb is a GIF whose logical screen is 1×1 but whose one frame is
// w×h: browsers may grow the image to hold the frame.
func GIFFrameBomb(w, h uint16) []byte {
	le := binary.LittleEndian
	b := append([]byte("GIF89a"), 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255)
	b = append(b, 0x2c, 0, 0, 0, 0)
	b = le.AppendUint16(b, w)
	b = le.AppendUint16(b, h)
	return append(b, 0, 2, 2, 0x4c, 0x01, 0, 0x3b)
}
