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
// ("" for a file kept on disk only), its modification time, and what to
// close once it is served; ok is false when there is none (no such file,
// and no copy in the database). This node's file is served as it is, read
// (to hash it) only when it changed since it was last checked.
func (s *Surface) brandContent(ctx context.Context, name, sum string) (content io.ReadSeeker, mod time.Time, done func(), ok bool) {
	f, mod, err := s.openBrand(name, sum)
	switch {
	case err == nil:
		return f, mod, func() { _ = f.Close() }, true
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errStaleBrand):
		s.log.Warn("open "+name, "err", err)
	}
	if sum == "" {
		return nil, time.Time{}, nil, false
	}
	data, err := s.d.Chat.BrandImage(ctx, sum)
	if err != nil || stagechat.BrandSum(data) != sum {
		// Replaced in the meantime (the next request reads the new
		// settings), or the database lost it: the default.
		if err == nil {
			err = errStaleBrand
		}
		s.log.Warn("no copy of "+name+" in the database", "err", err)
		return nil, time.Time{}, nil, false
	}
	// Restored here for the requests that follow.
	if err := s.writeLogoFile(name, data); err != nil {
		s.log.Warn("restore "+name+" from the database", "err", err)
	}
	return bytes.NewReader(data), time.Now(), func() {}, true
}

// errStaleBrand: this node's copy is not the file the settings name.
var errStaleBrand = errors.New("this node's copy is another file")

// openBrand opens the logo directory's file name, checking its bytes
// against sum unless sum is "" (a file read and hashed once per size and
// modification time, brandSums).
func (s *Surface) openBrand(name, sum string) (*os.File, time.Time, error) {
	root, err := os.OpenRoot(filepath.Join(s.d.Chats.DataDir, logoDir))
	if err != nil {
		return nil, time.Time{}, err
	}
	defer func() { _ = root.Close() }() // an open file outlives its root
	f, err := root.Open(name)
	if err != nil {
		return nil, time.Time{}, err
	}
	st, err := f.Stat()
	switch {
	case err != nil:
	case !st.Mode().IsRegular() || st.Size() > stagechat.MaxLogoBytes:
		err = errStaleBrand
	case sum != "":
		err = s.checkBrand(f, name, sum, brandSeen{size: st.Size(), mod: st.ModTime()})
	}
	if err != nil {
		_ = f.Close()
		return nil, time.Time{}, err
	}
	return f, st.ModTime(), nil
}

// checkBrand reports errStaleBrand unless f, the logo directory's file
// name as seen, holds the bytes of sum; f is read and hashed only when it
// was not seen as it is before, and left at its start.
func (s *Surface) checkBrand(f *os.File, name, sum string, seen brandSeen) error {
	s.brands.mu.Lock()
	prev, ok := s.brands.m[name]
	s.brands.mu.Unlock()
	if ok && prev.size == seen.size && prev.mod.Equal(seen.mod) {
		seen.sum = prev.sum
	} else {
		data, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		seen.sum = stagechat.BrandSum(data)
		s.brands.mu.Lock()
		if s.brands.m == nil {
			s.brands.m = map[string]brandSeen{}
		}
		s.brands.m[name] = seen
		s.brands.mu.Unlock()
	}
	if seen.sum != sum {
		return errStaleBrand
	}
	return nil
}
