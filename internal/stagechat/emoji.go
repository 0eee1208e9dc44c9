package stagechat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/imagehdr"
)

// EmojiURLPrefix is where custom emoji are served.
const EmojiURLPrefix = "/img/emoji/"

// MaxEmojiBytes is the largest emoji image accepted.
const MaxEmojiBytes = 512 << 10

// MaxEmojiSide is the largest width or height, in pixels, an emoji image
// may declare. The image is never decoded here but in every chat member's
// browser, inline in each message that uses it: a 512 KiB GIF or PNG can
// declare 65535×65535 pixels, gigabytes once decoded. Emoji are drawn
// about 32 pixels high (Discord resizes its own to 128×128), so 1024
// leaves room for any real emoji and bounds one to 4 MiB decoded.
const MaxEmojiSide = 1024

// MaxLogoSide is the largest width or height the stage logo (and a PNG
// favicon) may declare: shown on every page and in link previews, larger
// than an emoji but still bounded (64 MiB decoded at most).
const MaxLogoSide = 4096

// CheckImageSize reads the width and height an image declares (its
// header, and a GIF's frames; its pixels are never decoded) and refuses,
// as bad input, an image whose header cannot be read or that is wider or
// taller than max pixels. what names the image in the message ("emoji",
// "logo").
func CheckImageSize(what string, data []byte, max int) error {
	w, h, err := imagehdr.Size(data)
	if err != nil {
		return fault.Newf(fault.Invalid, "%s image is not readable: its width and height could not be read", what)
	}
	if w > max || h > max {
		return fault.Newf(fault.Invalid, "%s must be at most %dx%d pixels, not %dx%d", what, max, max, w, h)
	}
	return nil
}

// Emoji is one custom emoji.
type Emoji struct {
	Name string // shortcode (file name without extension)
	File string // file name in the emoji directory
	URL  string
}

var emojiTypes = map[string]string{"image/png": ".png", "image/gif": ".gif", "image/jpeg": ".jpg", "image/webp": ".webp"}

// ImageExt is the file extension of an uploaded image (emoji, the stage
// logo), from the type sniffed from its bytes: PNG, GIF, JPEG or WebP.
// Anything else, SVG included, is not an image here.
func ImageExt(data []byte) (string, bool) {
	ext, ok := emojiTypes[http.DetectContentType(data)]
	return ext, ok
}

// EmojiDir is the custom emoji: the files of the emoji directory (put
// there by hand, or uploaded before the database kept uploads) and, once
// shared (Share), the emoji uploaded through the admin API, kept in the
// database so that every node of a cluster lists and serves them. Every
// file access goes through os.Root, so a name can never leave the
// directory.
type EmojiDir struct {
	root *os.Root

	st      EmojiStore // nil: uploads go to the directory
	changed func()     // called after an upload or delete (Share)

	// up is held by an upload from its check for a taken name to its
	// write, so two uploads of one name cannot both pass the check.
	up sync.Mutex

	mu     sync.Mutex
	cache  map[string]Emoji // by lower-case shortcode; nil: never read
	loaded time.Time        // when cache was read; zero: stale (invalidate)

	// kept holds the uploaded emoji's bytes read from the database, by
	// file name, shared by every request serving one (keptBytes in all,
	// at most maxKeptEmoji); gen counts invalidations, so that bytes read
	// across one are not kept. reads joins the requests for one file the
	// database is being asked for. kept, keptBytes and gen are under mu.
	kept      map[string]keptEmoji
	keptBytes int64
	gen       uint64
	reads     singleflight.Group
}

// keptEmoji is an uploaded emoji's bytes and upload time, read from the
// database at read.
type keptEmoji struct {
	data     []byte
	at, read time.Time
}

// maxKeptEmoji bounds the uploaded emoji bytes a node keeps in memory to
// serve: every chat member's browser loads each emoji a message shows, and
// read from the database for each request, every request held its own
// copy (up to MaxEmojiBytes) for as long as its client took to read it.
const maxKeptEmoji = 32 << 20

// emojiReadTimeout bounds one read of an uploaded emoji's bytes, shared by
// the requests waiting on it whichever of them goes away.
const emojiReadTimeout = 10 * time.Second

// EmojiStore keeps the emoji uploaded through the admin API in the
// database (store.StageChat).
type EmojiStore interface {
	// PutEmoji keeps an emoji: Conflict when its file or lower-case
	// shortcode (code) is taken.
	PutEmoji(ctx context.Context, file, code string, data []byte, at time.Time) error
	// StoredEmoji lists them without their bytes.
	StoredEmoji(ctx context.Context) ([]StoredEmoji, error)
	// EmojiData is one's bytes and upload time (NotFound when none).
	EmojiData(ctx context.Context, file string) ([]byte, time.Time, error)
	// DeleteEmoji removes the one of a file name, or when none has
	// it, the one of a lower-case shortcode (NotFound when none; ""
	// names none).
	DeleteEmoji(ctx context.Context, file, code string) error
}

// StoredEmoji is an emoji kept in the database.
type StoredEmoji struct {
	File      string
	CreatedAt time.Time
}

// EmojiTopic carries "custom emoji changed" notices between nodes.
const EmojiTopic = "stagechat-emoji.changed"

// emojiListTTL is how long a listing is used before it is read again: the
// other nodes' uploads and deletes are announced (Invalidate), and a node
// that missed an announcement catches up within this.
const emojiListTTL = 30 * time.Second

// emojiRetry is how soon a listing the database failed to answer is tried
// again.
const emojiRetry = 5 * time.Second

// Share makes uploads go to st, listed and served beside the directory's
// files; changed is called after each upload and delete, to tell the
// other nodes of a cluster (whose EmojiDir then Invalidate).
func (d *EmojiDir) Share(st EmojiStore, changed func()) {
	d.st, d.changed = st, changed
}

// Invalidate makes the next listing read the directory and the database
// again (another node uploaded or deleted an emoji).
func (d *EmojiDir) Invalidate() { d.invalidate() }

// OpenEmojiDir opens (creating) the emoji directory.
func OpenEmojiDir(dir string) (*EmojiDir, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("stagechat: emoji dir: %w", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("stagechat: emoji dir: %w", err)
	}
	RemoveTemps(r, time.Now().Add(time.Second)) // writes a crash cut off
	return &EmojiDir{root: r}, nil
}

// Close releases the directory.
func (d *EmojiDir) Close() error { return d.root.Close() }

// cleanName validates a client-supplied emoji file name: one path element,
// local, no NUL, no encoded separators, a known image extension.
func cleanName(name string) (string, error) {
	name = strings.TrimPrefix(strings.TrimSpace(name), EmojiURLPrefix)
	bad := name == "" || len(name) > 128 || strings.ContainsAny(name, "/\\\x00%") || !filepath.IsLocal(name) ||
		strings.HasPrefix(name, ".")
	if bad {
		return "", fault.New(fault.Invalid, "invalid emoji name")
	}
	return name, nil
}

func shortcode(file string) string { return strings.TrimSuffix(file, path.Ext(file)) }

// List returns every emoji, sorted by name.
func (d *EmojiDir) List(ctx context.Context) ([]Emoji, error) {
	m, err := d.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Emoji, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lookup implements EmojiLookup.
func (d *EmojiDir) Lookup(name string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := d.load(ctx)
	if err != nil {
		return "", false
	}
	e, ok := m[strings.ToLower(name)]
	return e.URL, ok
}

func (d *EmojiDir) load(ctx context.Context) (map[string]Emoji, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cache != nil && !d.loaded.IsZero() && (d.st == nil || time.Since(d.loaded) < emojiListTTL) {
		return d.cache, nil
	}
	f, err := d.root.Open(".")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	m := make(map[string]Emoji, len(ents))
	add := func(file string) {
		ext := strings.ToLower(path.Ext(file))
		if ext != ".png" && ext != ".gif" && ext != ".jpg" && ext != ".jpeg" && ext != ".webp" {
			return
		}
		sc := shortcode(file)
		if _, taken := m[strings.ToLower(sc)]; !taken { // the directory's own file first
			m[strings.ToLower(sc)] = Emoji{Name: sc, File: file, URL: EmojiURLPrefix + file}
		}
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			add(e.Name())
		}
	}
	if d.st != nil {
		stored, err := d.st.StoredEmoji(ctx)
		if err != nil {
			if d.cache != nil {
				// The database is out of reach: the listing in hand,
				// read again in a few seconds (chat renders every
				// message through Lookup and must not wait on it).
				d.loaded = time.Now().Add(emojiRetry - emojiListTTL)
				return d.cache, nil
			}
			return nil, fmt.Errorf("stagechat: list uploaded emoji: %w", err)
		}
		for _, e := range stored {
			add(e.File)
		}
	}
	d.cache, d.loaded = m, time.Now()
	return m, nil
}

// Upload stores an emoji image. The type is sniffed from the bytes (PNG,
// GIF, JPEG or WebP; SVG and anything else is refused) and the file gets
// the matching extension. An image declaring more than MaxEmojiSide pixels
// a side, and a shortcode already taken, are refused.
func (d *EmojiDir) Upload(ctx context.Context, name string, data []byte) (Emoji, error) {
	name, err := cleanName(name)
	if err != nil {
		return Emoji{}, err
	}
	// The name is listed to everyone by GET /api/emoji and shown in emoji
	// pickers: line breaks, bidi overrides and zero-width characters
	// there only hide or disguise what the emoji is called.
	if strings.IndexFunc(name, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) || r == utf8.RuneError }) >= 0 {
		return Emoji{}, fault.New(fault.Invalid, "emoji name must not hold control or invisible formatting characters")
	}
	if len(data) == 0 || len(data) > MaxEmojiBytes {
		return Emoji{}, fault.Newf(fault.Invalid, "emoji image must be 1 byte to %d KiB", MaxEmojiBytes>>10)
	}
	ext, ok := ImageExt(data)
	if !ok {
		return Emoji{}, fault.New(fault.Invalid, "emoji must be a PNG, GIF, JPEG or WebP image")
	}
	if err := CheckImageSize("emoji", data, MaxEmojiSide); err != nil {
		return Emoji{}, err
	}
	file := shortcode(name) + ext
	if _, err := cleanName(file); err != nil {
		return Emoji{}, err
	}
	d.up.Lock()
	defer d.up.Unlock()
	// Owncast refuses a name already taken (400, "An emoji with the name
	// %q already exists") rather than replacing the image every message
	// using it shows. Shortcodes are matched without case, as chat does,
	// so "e1.gif" is taken by "e1.png" too. The listing is read afresh:
	// a file put in the directory by hand is not in the cache.
	d.invalidate()
	m, err := d.load(ctx)
	if err != nil {
		return Emoji{}, fmt.Errorf("stagechat: list emoji: %w", err)
	}
	if old, ok := m[strings.ToLower(shortcode(file))]; ok {
		return Emoji{}, fault.Newf(fault.Conflict, "An emoji with the name %q already exists", old.File)
	}
	var werr error
	if d.st != nil {
		// Another node may take the shortcode at the same moment: the
		// database keeps one.
		werr = d.st.PutEmoji(ctx, file, strings.ToLower(shortcode(file)), data, time.Now())
		if errors.Is(werr, fault.Conflict) {
			d.invalidate()
			return Emoji{}, fault.Newf(fault.Conflict, "An emoji with the name %q already exists", file)
		}
	} else {
		// Never written in place: a crash mid-write would leave a cut
		// image listed and served as the emoji.
		werr = WriteFileAtomic(d.root, file, data)
	}
	d.invalidate()
	if werr != nil {
		return Emoji{}, fmt.Errorf("stagechat: write emoji: %w", werr)
	}
	d.announce()
	return Emoji{Name: shortcode(file), File: file, URL: EmojiURLPrefix + file}, nil
}

// announce tells the other nodes that the emoji changed (Share).
func (d *EmojiDir) announce() {
	if d.changed != nil {
		d.changed()
	}
}

// Delete removes an emoji. It accepts the three names clients send: the
// file name ("e1.png"), the shortcode GET /api/emoji lists ("e1"), and the
// rooted path Owncast's own admin sends ("/e1.png", or the full URL path
// "/img/emoji/e1.png"). Only one leading slash is dropped, so the name is
// still a single local path element after it.
func (d *EmojiDir) Delete(ctx context.Context, name string) error {
	name = strings.TrimSpace(name)
	if !strings.HasPrefix(name, EmojiURLPrefix) {
		name = strings.TrimPrefix(name, "/")
	}
	name, err := cleanName(name)
	if err != nil {
		return err
	}
	// By file name first, an uploaded one kept in the database and a file
	// of the directory (the same name may be in both); only when neither
	// has it, as a shortcode. A delete removes one emoji: a shortcode may
	// be another emoji's file name ("a.png" is the file of shortcode "a"
	// and the shortcode of "a.png.gif").
	removed := false
	fromStore := func(file, code string) error {
		if d.st == nil {
			return nil
		}
		switch err := d.st.DeleteEmoji(ctx, file, code); {
		case err == nil:
			removed = true
		case !errors.Is(err, fault.NotFound):
			return err
		}
		return nil
	}
	if err := fromStore(name, ""); err != nil {
		return err
	}
	err = d.root.Remove(name)
	if errors.Is(err, fs.ErrNotExist) && !removed {
		// Not a file name: try it as a shortcode.
		if err := fromStore("", strings.ToLower(name)); err != nil {
			return err
		}
		if m, lerr := d.load(ctx); lerr == nil {
			if e, ok := m[strings.ToLower(name)]; ok {
				err = d.root.Remove(e.File)
			}
		}
	}
	d.invalidate()
	if removed || err == nil {
		d.announce()
	}
	if errors.Is(err, fs.ErrNotExist) {
		if removed {
			return nil
		}
		return fault.New(fault.NotFound, "emoji not found")
	}
	return err
}

// Open opens an emoji for serving: the directory's file, or the uploaded
// one's bytes from the database; mod is its modification time.
func (d *EmojiDir) Open(ctx context.Context, name string) (content io.ReadSeekCloser, mod time.Time, err error) {
	notFound := fault.New(fault.NotFound, "not found")
	name, err = cleanName(name)
	if err != nil {
		return nil, time.Time{}, notFound
	}
	if f, err := d.root.Open(name); err == nil {
		st, err := f.Stat()
		if err == nil && st.Mode().IsRegular() {
			return f, st.ModTime(), nil
		}
		f.Close()
	}
	if d.st == nil {
		return nil, time.Time{}, notFound
	}
	e, err := d.storedEmoji(ctx, name)
	if err != nil {
		if errors.Is(err, fault.NotFound) {
			err = notFound
		}
		return nil, time.Time{}, err
	}
	return bytesFile{bytes.NewReader(e.data)}, e.at, nil
}

// storedEmoji is the uploaded emoji of file name: kept in memory when read
// lately (within emojiListTTL, and no upload or delete announced since),
// else read from the database once for all the requests asking meanwhile.
func (d *EmojiDir) storedEmoji(ctx context.Context, name string) (keptEmoji, error) {
	d.mu.Lock()
	e, ok := d.kept[name]
	gen := d.gen
	d.mu.Unlock()
	if ok && time.Since(e.read) < emojiListTTL {
		return e, nil
	}
	v, err, _ := d.reads.Do(name, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), emojiReadTimeout)
		defer cancel()
		data, at, err := d.st.EmojiData(rctx, name)
		if err != nil {
			return keptEmoji{}, err
		}
		e := keptEmoji{data: data, at: at, read: time.Now()}
		d.keep(name, e, gen)
		return e, nil
	})
	if err != nil {
		return keptEmoji{}, err
	}
	return v.(keptEmoji), nil
}

// keep keeps e as the bytes of file name unless an invalidation came
// since gen, making room (older ones dropped) within maxKeptEmoji.
func (d *EmojiDir) keep(name string, e keptEmoji, gen uint64) {
	n := int64(len(e.data))
	d.mu.Lock()
	defer d.mu.Unlock()
	if gen != d.gen || n > maxKeptEmoji {
		return
	}
	if d.kept == nil {
		d.kept = map[string]keptEmoji{}
	}
	if old, ok := d.kept[name]; ok {
		d.keptBytes -= int64(len(old.data))
		delete(d.kept, name)
	}
	for other, o := range d.kept {
		if d.keptBytes+n <= maxKeptEmoji {
			break
		}
		d.keptBytes -= int64(len(o.data))
		delete(d.kept, other)
	}
	d.kept[name], d.keptBytes = e, d.keptBytes+n
}

// bytesFile is an uploaded emoji's bytes, served as a file.
type bytesFile struct{ *bytes.Reader }

func (bytesFile) Close() error { return nil }

// invalidate makes the next listing read the directory and the database
// again (the listing in hand is still answered if the database cannot be
// read then), and the next request for an uploaded emoji its bytes.
func (d *EmojiDir) invalidate() {
	d.mu.Lock()
	d.loaded = time.Time{}
	d.kept, d.keptBytes, d.gen = nil, 0, d.gen+1
	d.mu.Unlock()
}
