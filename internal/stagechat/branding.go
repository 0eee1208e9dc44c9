package stagechat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"

	"github.com/hearth-community/hearth/internal/fault"
)

// The instance's logo and favicon (Owncast 0.2's limits: a 2 MiB logo, a
// 200 KB favicon; every visitor's browser decodes them, so a PNG's
// declared size is bounded too, by MaxLogoSide).
const (
	MaxLogoBytes    = 2 << 20
	MaxFaviconBytes = 200 << 10
)

// Refusals of a logo or favicon, in Owncast's words.
var (
	ErrLogoEmpty     = fault.New(fault.Invalid, "unable to find image data")
	ErrLogoTooLarge  = fault.New(fault.Invalid, "logo must be at most 2 MiB")
	ErrLogoType      = fault.New(fault.Invalid, "logo must be a PNG, JPEG, GIF or WebP image")
	ErrFaviconTooBig = fault.New(fault.Invalid, "file too large, max 200KB")
	ErrFaviconType   = fault.New(fault.Invalid, "favicon must be PNG or ICO format")
)

// CheckLogo is the rule of the logo: 1 byte to MaxLogoBytes of PNG, JPEG,
// GIF or WebP (by its bytes), declaring at most MaxLogoSide pixels a
// side. It returns the image's file extension.
func CheckLogo(data []byte) (string, error) {
	switch {
	case len(data) == 0:
		return "", ErrLogoEmpty
	case len(data) > MaxLogoBytes:
		return "", ErrLogoTooLarge
	}
	ext, ok := ImageExt(data)
	if !ok {
		return "", ErrLogoType
	}
	return ext, CheckImageSize("logo", data, MaxLogoSide)
}

// FaviconType is the extension and content type of a favicon: PNG or ICO
// only, as Owncast 0.2, by its bytes.
func FaviconType(data []byte) (ext, ct string, ok bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return ".png", "image/png", true
	case len(data) >= 6 && bytes.HasPrefix(data, []byte{0, 0, 1, 0}) && (data[4] != 0 || data[5] != 0):
		return ".ico", "image/x-icon", true
	}
	return "", "", false
}

// CheckFavicon is the rule of the favicon: at most MaxFaviconBytes of PNG
// or ICO, a PNG declaring at most MaxLogoSide pixels a side (an ICO's own
// entries are at most 256 pixels a side; one holding a PNG is not looked
// into). It returns the extension.
func CheckFavicon(data []byte) (string, error) {
	if len(data) > MaxFaviconBytes {
		return "", ErrFaviconTooBig
	}
	ext, ct, ok := FaviconType(data)
	if !ok {
		return "", ErrFaviconType
	}
	if ct == "image/png" {
		if err := CheckImageSize("favicon", data, MaxLogoSide); err != nil {
			return "", err
		}
	}
	return ext, nil
}

// The logo and favicon are kept in the database as well as in the data
// directory's logo/, so that every node of a cluster serves the one
// uploaded through any node (the settings name the file and the sum of
// its bytes: a node whose copy is missing or another's restores it from
// here). A copy is kept under its sum, so the settings' sum always names
// bytes that are there, whenever a node stopped between storing an image
// and naming it.
const brandImageKey = "stagechat.image."

// BrandSum is the sum the settings keep of a logo's or favicon's bytes.
func BrandSum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// PutBrandImage keeps data (a logo or favicon, checked already) in the
// database and returns its BrandSum.
func (s *Service) PutBrandImage(ctx context.Context, data []byte) (string, error) {
	sum := BrandSum(data)
	return sum, s.st.SetInstanceValue(ctx, brandImageKey+sum, base64.StdEncoding.EncodeToString(data))
}

// BrandImage is the database copy of the image of sum (NotFound when
// there is none).
func (s *Service) BrandImage(ctx context.Context, sum string) ([]byte, error) {
	v, err := s.st.InstanceValue(ctx, brandImageKey+sum)
	if err == nil && v == "" {
		err = fault.NotFound
	}
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(v)
}

// DropBrandImage frees the database copy of the image of sum, which the
// settings no longer name.
func (s *Service) DropBrandImage(ctx context.Context, sum string) error {
	return s.st.SetInstanceValue(ctx, brandImageKey+sum, "")
}
