package files

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
)

// SweepGrace is how old a file that no row names must be before Sweep
// removes it: an upload still arriving has no row until its request ends.
const SweepGrace = time.Hour

// sweepBatch is how many attachment rows of deleted messages one query
// drops.
const sweepBatch = 500

// Purge removes a deleted message's attachments: the rows, then the files.
func (s *API) Purge(ctx context.Context, messageID string) error {
	if s.Ready() != nil {
		return nil
	}
	as, err := s.store.DropAttachments(ctx, messageID)
	if err != nil {
		return err
	}
	s.removeFiles(as)
	return nil
}

// removeFiles removes the attachments' files and their message
// directories once empty.
func (s *API) removeFiles(as []*Attachment) {
	dirs := map[string]bool{}
	for _, a := range as {
		_ = s.uploads.Remove(a.MessageID + "/" + a.StoredName)
		dirs[a.MessageID] = true
	}
	for d := range dirs {
		_ = s.uploads.Remove(d) // fails, as it should, while files are left
	}
}

// Sweep reclaims the upload directory and reports how many files it
// removed: the attachments of deleted messages (rows and files), and,
// once older than SweepGrace, files that no row names (an upload cut off
// by a crash; the attachments of a deleted channel or server, whose rows
// went with its messages; the image of a deleted emoji).
func (s *API) Sweep(ctx context.Context, now time.Time) (int, error) {
	if s.Ready() != nil {
		return 0, nil
	}
	removed := 0
	for {
		as, err := s.store.DropDeletedAttachments(ctx, sweepBatch)
		if err != nil {
			return removed, err
		}
		s.removeFiles(as)
		removed += len(as)
		if len(as) < sweepBatch {
			break
		}
	}
	top, err := fs.ReadDir(s.uploads.FS(), ".")
	if err != nil {
		return removed, err
	}
	old := func(e fs.DirEntry) bool {
		info, err := e.Info()
		return err == nil && now.Sub(info.ModTime()) > SweepGrace
	}
	for _, d := range top {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		switch {
		case !d.IsDir():
		case d.Name() == "emojis":
			removed += s.sweepEmoji(ctx, old)
		case uuid.Validate(d.Name()) == nil: // a message's directory
			removed += s.sweepMessageDir(ctx, d, old)
		}
	}
	return removed, nil
}

// sweepEmoji removes the emoji images, older than SweepGrace, whose emoji
// is gone.
func (s *API) sweepEmoji(ctx context.Context, old func(fs.DirEntry) bool) (removed int) {
	entries, err := fs.ReadDir(s.uploads.FS(), "emojis")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		if uuid.Validate(e.Name()) != nil || !old(e) {
			continue
		}
		if _, err := s.store.Emoji(ctx, e.Name()); errors.Is(err, fault.NotFound) && s.uploads.Remove("emojis/"+e.Name()) == nil {
			removed++
		}
	}
	return removed
}

// sweepMessageDir removes the files of a message's directory, older than
// SweepGrace, that no attachment row names, then the directory once it is
// empty and old.
func (s *API) sweepMessageDir(ctx context.Context, d fs.DirEntry, old func(fs.DirEntry) bool) (removed int) {
	name := d.Name()
	entries, err := fs.ReadDir(s.uploads.FS(), name)
	if err != nil {
		return 0
	}
	as, err := s.store.Attachments(ctx, name)
	if err != nil {
		return 0
	}
	known := make(map[string]bool, len(as))
	for _, a := range as {
		known[a.StoredName] = true
	}
	left := 0
	for _, e := range entries {
		if known[e.Name()] || !old(e) || s.uploads.Remove(name+"/"+e.Name()) != nil {
			left++
			continue
		}
		removed++
	}
	if left == 0 && old(d) {
		_ = s.uploads.Remove(name)
	}
	return removed
}
