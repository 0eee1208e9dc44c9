package owncast

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/stagechat"
)

// The logo and favicon are written to the data directory's logo/ and kept
// in the database (stagechat.PutBrandImage); the settings name the file
// and the sum of its bytes. A node serves its own copy when the copy's
// bytes have that sum, and otherwise (uploaded through another node of a
// cluster, or replaced there under the same name) restores the copy from
// the database first. A logo set before the database kept a copy (no sum)
// is served from the disk as it is.

// storeBrand keeps a checked logo or favicon under name, in the database
// first (a node that reads the new settings finds the bytes), then on this
// node's disk, and returns the sum the settings keep of it.
func (s *Surface) storeBrand(ctx context.Context, name string, data []byte) (string, error) {
	sum, err := s.d.Chat.PutBrandImage(ctx, data)
	if err != nil {
		return "", err
	}
	if err := s.writeLogoFile(name, data); err != nil {
		return "", err
	}
	return sum, nil
}

// dropBrand frees the database copy of an image the settings named
// before (old) and name no more (st).
func (s *Surface) dropBrand(ctx context.Context, old string, st stagechat.Settings) {
	if old == "" || old == st.LogoSum || old == st.FaviconSum {
		return
	}
	if err := s.d.Chat.DropBrandImage(ctx, old); err != nil {
		s.log.Warn("drop the database copy of a replaced logo or favicon", "err", err)
	}
}

// brandSums remembers the sum of each logo directory file this node has
// read, by its size and modification time, so that a request does not
// hash the file again.
type brandSums struct {
	mu sync.Mutex
	m  map[string]brandSeen
}

type brandSeen struct {
	size int64
	mod  time.Time
	sum  string
}

// brandContent is the logo directory's file name with the bytes of sum
// ("" for a file kept on disk only), and its modification time; ok is
// false when there is none (no such file, and no copy in the database).
func (s *Surface) brandContent(ctx context.Context, name, sum string) (content io.ReadSeeker, mod time.Time, ok bool) {
	dir := filepath.Join(s.d.Chats.DataDir, logoDir)
	data, mod, err := s.readBrand(dir, name, sum)
	switch {
	case err == nil:
		return bytes.NewReader(data), mod, true
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errStaleBrand):
		s.log.Warn("open "+name, "err", err)
	}
	if sum == "" {
		return nil, time.Time{}, false
	}
	data, err = s.d.Chat.BrandImage(ctx, sum)
	if err != nil || stagechat.BrandSum(data) != sum {
		// Replaced in the meantime (the next request reads the new
		// settings), or the database lost it: the default.
		if err == nil {
			err = errStaleBrand
		}
		s.log.Warn("no copy of "+name+" in the database", "err", err)
		return nil, time.Time{}, false
	}
	// Restored here for the requests that follow.
	if err := s.writeLogoFile(name, data); err != nil {
		s.log.Warn("restore "+name+" from the database", "err", err)
	}
	return bytes.NewReader(data), time.Now(), true
}

// errStaleBrand: this node's copy is not the file the settings name.
var errStaleBrand = errors.New("this node's copy is another file")

// readBrand reads dir's file name, checking its bytes against sum unless
// sum is "".
func (s *Surface) readBrand(dir, name, sum string) ([]byte, time.Time, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer func() { _ = root.Close() }()
	f, err := root.Open(name)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	if !st.Mode().IsRegular() || st.Size() > stagechat.MaxLogoBytes {
		return nil, time.Time{}, errStaleBrand
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, time.Time{}, err
	}
	if sum == "" {
		return data, st.ModTime(), nil
	}
	seen := brandSeen{size: st.Size(), mod: st.ModTime()}
	s.brands.mu.Lock()
	prev, ok := s.brands.m[name]
	s.brands.mu.Unlock()
	if ok && prev.size == seen.size && prev.mod.Equal(seen.mod) {
		seen.sum = prev.sum
	} else {
		seen.sum = stagechat.BrandSum(data)
		s.brands.mu.Lock()
		if s.brands.m == nil {
			s.brands.m = map[string]brandSeen{}
		}
		s.brands.m[name] = seen
		s.brands.mu.Unlock()
	}
	if seen.sum != sum {
		return nil, time.Time{}, errStaleBrand
	}
	return data, st.ModTime(), nil
}
