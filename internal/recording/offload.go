package recording

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hearth-community/hearth/internal/hls"
)

// ObjectStore is the S3 bucket recordings are offloaded to (hls.Bucket).
type ObjectStore interface {
	PutFile(ctx context.Context, key, file, contentType string) error
	Open(ctx context.Context, key string) (hls.Object, time.Time, bool, error)
	RemovePrefix(ctx context.Context, prefix string) error
}

func (s *Service) objects() ObjectStore {
	if s.cfg.Objects == nil {
		return nil
	}
	return s.cfg.Objects()
}

// offload copies a ready recording to the bucket (segments first, the
// playlist last, so a listed playlist's segments are there), in the
// background; the local files stay and are served first. Shutdown cancels
// a copy in flight (it would hold the node up to 30 minutes); the local
// files are still served.
func (s *Service) offload(id string) {
	obj := s.objects()
	if obj == nil {
		return
	}
	s.offloads.Add(1)
	go func() {
		defer s.offloads.Done()
		ctx, cancel := context.WithTimeout(s.cfg.Life, 30*time.Minute)
		defer cancel()
		entries, err := s.loadEntries(id)
		if err != nil {
			s.log.Warn("recording: offload: cannot read the playlist", "recording", id, "err", err)
			return
		}
		dir := s.dirOf(id)
		files := make([][2]string, 0, len(entries)+2)
		for _, e := range entries {
			files = append(files, [2]string{e.name, hls.SegmentContentType})
		}
		if _, err := os.Stat(filepath.Join(dir, ThumbnailName)); err == nil {
			files = append(files, [2]string{ThumbnailName, "image/jpeg"})
		}
		files = append(files, [2]string{PlaylistName, hls.PlaylistContentType})
		for _, f := range files {
			if err := obj.PutFile(ctx, id+"/"+f[0], filepath.Join(dir, f[0]), f[1]); err != nil {
				s.log.Warn("recording: offload to S3 failed; the recording stays on this node's disk", "recording", id, "err", err)
				return
			}
		}
		s.log.Info("recording offloaded to S3", "recording", id, "objects", len(files))
	}()
}

// WaitOffloads waits for the offloads in flight (tests, shutdown).
func (s *Service) WaitOffloads() { s.offloads.Wait() }

// Open opens a recording's playlist, segment or thumbnail: from this
// node's disk, else from the bucket (a recording made on another node).
func (s *Service) Open(ctx context.Context, id, name string) (io.ReadSeekCloser, time.Time, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, time.Time{}, err
	}
	if name != PlaylistName && name != ThumbnailName && !segName.MatchString(name) {
		return nil, time.Time{}, errNotFound
	}
	if f, err := os.Open(filepath.Join(s.dirOf(id), name)); err == nil {
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, time.Time{}, err
		}
		return f, fi.ModTime(), nil
	}
	obj := s.objects()
	if obj == nil {
		return nil, time.Time{}, errNotFound
	}
	o, mod, ok, err := obj.Open(ctx, id+"/"+name)
	if err != nil {
		return nil, time.Time{}, err
	}
	if !ok {
		return nil, time.Time{}, errNotFound
	}
	return o, mod, nil
}

func (s *Service) removeObjects(id string) {
	obj := s.objects()
	if obj == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.cfg.Life, 5*time.Minute)
	defer cancel()
	if err := obj.RemovePrefix(ctx, id); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("recording: cannot delete the S3 objects", "recording", id, "err", err)
	}
}
