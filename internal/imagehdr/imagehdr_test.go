package imagehdr_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"testing"

	"github.com/hearth-community/hearth/internal/imagehdr"
)

func pngHeader(w, h uint32) []byte {
	ihdr := []byte("IHDR")
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	b := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d"), ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// jpegHeader is a JPEG's start and a frame header of type sof declaring
// w×h (three components), then its end: enough for a browser to allocate.
func jpegHeader(sof byte, w, h uint16) []byte {
	b := []byte{0xff, 0xd8, 0xff, sof, 0x00, 0x11, 0x08}
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	return append(b, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 0xff, 0xd9)
}

// badCRC spoils a PNG header's IHDR checksum.
func badCRC(b []byte) []byte {
	b[len(b)-1] ^= 0xff
	return b
}

// gifWithFrame is a GIF whose logical screen is sw×sh and whose one frame
// (after a graphic control extension) is fw×fh at left, top.
func gifWithFrame(sw, sh, left, top, fw, fh uint16) []byte {
	le := binary.LittleEndian
	b := []byte("GIF89a")
	b = le.AppendUint16(b, sw)
	b = le.AppendUint16(b, sh)
	b = append(b, 0x80, 0, 0, 0, 0, 0, 255, 255, 255) // 2-colour global table
	b = append(b, 0x21, 0xf9, 4, 0, 0, 0, 0, 0)       // graphic control extension
	b = append(b, 0x2c)
	b = le.AppendUint16(b, left)
	b = le.AppendUint16(b, top)
	b = le.AppendUint16(b, fw)
	b = le.AppendUint16(b, fh)
	b = append(b, 0, 2, 2, 0x4c, 0x01, 0) // LZW data of one pixel
	return append(b, 0x3b)
}

// TestSize: the size is the header's, and for a GIF also the extent of its
// frames: a 1×1 screen holding a 65535×65535 frame is 65535×65535 to a
// browser. A PNG's IHDR declares its size whatever its checksum, a JPEG's
// frame header whatever its coding. An unreadable header is an error.
func TestSize(t *testing.T) {
	t.Parallel()
	real := func(enc func(*bytes.Buffer, image.Image) error) []byte {
		img := image.NewPaletted(image.Rect(0, 0, 3, 2), color.Palette{color.Black, color.White})
		var b bytes.Buffer
		if err := enc(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		data []byte
		w, h int
		err  bool
	}{
		{"png", real(func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }), 3, 2, false},
		{"gif", real(func(b *bytes.Buffer, m image.Image) error { return gif.Encode(b, m, nil) }), 3, 2, false},
		{"png header", pngHeader(60000, 60000), 60000, 60000, false},
		{"gif frame inside", gifWithFrame(16, 16, 2, 2, 4, 4), 16, 16, false},
		{"gif frame past the screen", gifWithFrame(1, 1, 0, 0, 65535, 65535), 65535, 65535, false},
		{"gif frame offset", gifWithFrame(8, 8, 65000, 10, 1, 1), 65001, 11, false},
		{"gif cut in its frame", gifWithFrame(1, 1, 0, 0, 300, 300)[:39], 300, 300, false},
		{"png header, its checksum wrong", badCRC(pngHeader(60000, 60000)), 60000, 60000, false},
		{"jpeg, arithmetic coding", jpegHeader(0xc9, 60000, 60000), 60000, 60000, false},
		{"jpeg, lossless", jpegHeader(0xc3, 640, 480), 640, 480, false},
		{"jpeg, arithmetic, after an APP segment", append([]byte("\xff\xd8\xff\xe0\x00\x04ab"), jpegHeader(0xca, 30, 20)[2:]...), 30, 20, false},
		{"jpeg, height left to a DNL", jpegHeader(0xc9, 640, 0), 0, 0, true},
		{"jpeg, scan before any frame", []byte("\xff\xd8\xff\xda\x00\x02"), 0, 0, true},
		{"cut jpeg frame header", jpegHeader(0xc9, 640, 480)[:8], 0, 0, true},
		{"cut png", pngHeader(1, 1)[:20], 0, 0, true},
		{"not an image", []byte("hello"), 0, 0, true},
	} {
		w, h, err := imagehdr.Size(tc.data)
		if w != tc.w || h != tc.h || (err != nil) != tc.err {
			t.Errorf("%s: %dx%d, %v; want %dx%d, error %v", tc.name, w, h, err, tc.w, tc.h, tc.err)
		}
	}
}

// FuzzImageSize: any bytes give a size or an error, never a panic, and never
// less than the header declares.
func FuzzImageSize(f *testing.F) {
	f.Add(pngHeader(1, 1))
	f.Add(gifWithFrame(1, 1, 0, 0, 65535, 65535))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x87\x00\x00"))
	f.Add(jpegHeader(0xc9, 640, 480))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, h, err := imagehdr.Size(data)
		if err != nil {
			return
		}
		cfg, _, cerr := image.DecodeConfig(bytes.NewReader(data))
		if cerr != nil {
			// Only a PNG whose header Go's reader refuses (its checksum):
			// the size its IHDR declares; or a JPEG (a frame Go's reader
			// does not take): a size, never zero.
			be := binary.BigEndian
			if len(data) >= 2 && data[0] == 0xff && data[1] == 0xd8 {
				if w <= 0 || h <= 0 {
					t.Fatalf("Size = %dx%d of a JPEG Go's reader refuses (%v)", w, h, cerr)
				}
				return
			}
			if len(data) < 24 || string(data[:8]) != "\x89PNG\r\n\x1a\n" || string(data[12:16]) != "IHDR" ||
				w != int(be.Uint32(data[16:])) || h != int(be.Uint32(data[20:])) {
				t.Fatalf("Size = %dx%d of what Go's reader refuses (%v)", w, h, cerr)
			}
			return
		}
		if w < cfg.Width || h < cfg.Height {
			t.Fatalf("Size = %dx%d, header %dx%d (%v)", w, h, cfg.Width, cfg.Height, cerr)
		}
	})
}
