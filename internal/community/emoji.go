package community

import (
	"fmt"
	"net/http"
	"regexp"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/imagehdr"
)

// A community's custom emoji (Together's limits, and Hearth's bound on
// the size an image may declare).
const (
	// MaxEmojiBytes is the largest emoji image (Together: 256 KiB).
	MaxEmojiBytes = 256 << 10
	// MaxEmojiSide bounds the width and height an emoji may declare: a
	// 256 KiB GIF can declare 65535×65535 pixels, which every member's
	// client would then decode. Discord resizes emoji to 128×128; 1024
	// leaves room for any real one and caps it at 4 MiB decoded.
	MaxEmojiSide = 1024
	// MaxEmojisPerCommunity is how many custom emoji a community keeps
	// (as Together).
	MaxEmojisPerCommunity = 50
)

// Refusals of a custom emoji, in Together's words.
var (
	ErrEmojiName       = fault.New(fault.Invalid, "Emoji name must be 1-32 characters: a-z, 0-9, '_' or '-'")
	ErrEmojiTooLarge   = fault.New(fault.Invalid, "Emoji image must be at most 256 KiB")
	ErrEmojiType       = fault.New(fault.Invalid, "Emoji image must be PNG, JPEG, GIF or WebP")
	ErrEmojiUnreadable = fault.New(fault.Invalid, "Emoji image is not readable: its width and height could not be read")
)

var emojiName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// emojiTypes are the image types an emoji may be, as sniffed from its
// bytes (never as the client names them).
var emojiTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// CheckEmojiName is the rule of an emoji's name: 1–32 of a-z, 0-9, _ and -.
func CheckEmojiName(name string) error {
	if !emojiName.MatchString(name) {
		return ErrEmojiName
	}
	return nil
}

// CheckEmojiImage is the rule of an emoji's image: at most MaxEmojiBytes
// (declared is the size the client declared, -1 when none), a PNG, JPEG,
// GIF or WebP by its bytes, and a header declaring at most MaxEmojiSide
// pixels a side (the image is decoded in every member's client, inline in
// each message: its declared size is what they allocate). It returns the
// image's content type.
func CheckEmojiImage(data []byte, declared int64) (string, error) {
	if declared > MaxEmojiBytes || len(data) > MaxEmojiBytes {
		return "", ErrEmojiTooLarge
	}
	ct := http.DetectContentType(data)
	if len(data) == 0 || !emojiTypes[ct] {
		return "", ErrEmojiType
	}
	// imagehdr.Size: the header's, and the extent of a GIF's frames.
	w, h, err := imagehdr.Size(data)
	if err != nil {
		return "", ErrEmojiUnreadable
	}
	if w > MaxEmojiSide || h > MaxEmojiSide {
		return "", fault.New(fault.Invalid, fmt.Sprintf("Emoji image must be at most %dx%d pixels, not %dx%d", MaxEmojiSide, MaxEmojiSide, w, h))
	}
	return ct, nil
}
