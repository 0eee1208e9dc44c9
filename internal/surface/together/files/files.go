// Package files serves Together's files: message attachments (upload,
// list, and GET /files/{message}/{name} by signed URL or by a caller who
// may view the message) and a server's custom emoji. Uploads are sniffed
// against Together's allow-list and stored under the upload directory
// through os.Root.
package files

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/disk"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/imagehdr"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/peersign"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

// Attachment is a file uploaded to a message.
type Attachment = store.Attachment

// Emoji is a community's custom emoji.
type Emoji = store.Emoji

// Store persists attachments and emoji (internal/store/together_extras.go).
type Store interface {
	AddAttachments(ctx context.Context, as []*Attachment, max int, quota int64) error
	Attachments(ctx context.Context, messageID string) ([]*Attachment, error)
	Attachment(ctx context.Context, messageID, storedName string) (*Attachment, error)
	DropAttachments(ctx context.Context, messageID string) ([]*Attachment, error)
	UploadedBytes(ctx context.Context, accountID string) (int64, error)
	DropDeletedAttachments(ctx context.Context, n int) ([]*Attachment, error)

	CreateEmoji(ctx context.Context, e *Emoji, max int, quota int64) error
	Emojis(ctx context.Context, communityID string) ([]*Emoji, error)
	Emoji(ctx context.Context, id string) (*Emoji, error)
	DeleteEmoji(ctx context.Context, communityID, id string) error
}

// Hooks are what the routes need from the rest of the surface.
type Hooks struct {
	// Message loads a live channel message the caller may view, with the
	// caller's access to its channel (NotFound otherwise).
	Message func(ctx context.Context, p *identity.Principal, id string) (*community.ChannelAccess, *messages.Message, error)
	// Broadcast sends a gateway event to every member of a community.
	Broadcast func(ctx context.Context, communityID, t string, d any)
}

// Config says where files go.
type Config struct {
	// Dir is the upload directory, created if missing ("": the routes
	// answer 503).
	Dir string
	// MinFreeBytes: uploads are refused (507) while the disk holding Dir
	// has less free space than this. 0: no check.
	MinFreeBytes int64
	// QuotaBytes is how much an account's kept attachments and custom
	// emoji may hold in all (507 past it; instance admins have none).
	// 0: no quota.
	QuotaBytes int64
	// NodeID names this node on the files it stores. With Peers and
	// PeerKey, a file another node stored is fetched from that node
	// (peer.go); without them it is 404 where the directory is not
	// shared.
	NodeID  string
	Peers   Peers
	PeerKey []byte
	// PeerClient fetches from the other nodes (nil: peersign's default).
	PeerClient *http.Client
}

// API serves the routes.
type API struct {
	*rest.Base
	store   Store    // nil: the routes answer 503
	uploads *os.Root // the upload directory (nil: the routes answer 503)
	cfg     Config
	key     []byte // signs attachment URLs, shared by nodes (Start)
	hooks   Hooks
	peers   *peersign.Proxy // fetches files other nodes hold
	addr    func(*http.Request) string
}

// New builds the routes on b, storing files under cfg.Dir. Without st or
// a directory the routes answer 503.
func New(b *rest.Base, st Store, cfg Config, h Hooks) (*API, error) {
	s := &API{Base: b, store: st, cfg: cfg, hooks: h, peers: newPeerProxy(cfg.PeerClient), addr: ratelimit.IPKey(b.TrustProxy)}
	if cfg.Dir == "" {
		return s, nil
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("uploads: %w", err)
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("uploads: %w", err)
	}
	s.uploads = root
	return s, nil
}

// errDiskFull refuses an upload while the upload disk is short of space.
var errDiskFull = &rest.StatusError{Status: http.StatusInsufficientStorage, Msg: "The server is out of storage space for uploads"}

// quotaError refuses an upload past the account's quota.
func (s *API) quotaError() error {
	size := fmt.Sprintf("%d bytes", s.cfg.QuotaBytes)
	if s.cfg.QuotaBytes >= 1<<20 {
		size = fmt.Sprintf("%d MiB", s.cfg.QuotaBytes>>20)
	}
	return &rest.StatusError{Status: http.StatusInsufficientStorage,
		Msg: "Upload quota of " + size + " used up: delete messages with attachments or custom emoji to free space"}
}

// quota is p's upload quota in bytes, 0 when it has none (none
// configured, or an instance admin).
func (s *API) quota(p *identity.Principal) int64 {
	if s.cfg.QuotaBytes <= 0 || p.Account.IsAdmin {
		return 0
	}
	return s.cfg.QuotaBytes
}

// quotaLeft is what p may still upload (attachments and custom emoji
// together), -1 when p has no quota. It is read when a request starts, to
// stop a file past it as it arrives; the store checks the quota again
// where it keeps the files (ErrOverQuota), against uploads that finished
// in between.
func (s *API) quotaLeft(ctx context.Context, p *identity.Principal) (int64, error) {
	if s.quota(p) <= 0 {
		return -1, nil
	}
	used, err := s.store.UploadedBytes(ctx, p.Account.ID)
	if err != nil {
		return 0, err
	}
	return s.cfg.QuotaBytes - used, nil
}

// roomFor reports whether the upload disk has at least MinFreeBytes left
// (unknown: yes).
func (s *API) roomFor() bool {
	if s.cfg.MinFreeBytes <= 0 {
		return true
	}
	free, ok := disk.Free(s.cfg.Dir)
	return !ok || free >= s.cfg.MinFreeBytes
}

// Start loads the key that signs attachment URLs (one for the cluster).
func (s *API) Start(ctx context.Context) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	stored, err := s.Identity.Store().SetInstanceValueOnce(ctx, "together.file_key", hex.EncodeToString(key))
	if err != nil {
		return fmt.Errorf("file key: %w", err)
	}
	s.key = []byte(stored)
	return nil
}

// Close closes the upload directory.
func (s *API) Close() error {
	if s.uploads != nil {
		return s.uploads.Close()
	}
	return nil
}

// Upload limits, as Together's.
const (
	MaxFileBytes       = 50 << 20
	MaxFilesPerMessage = 10
	// MaxEmojiBytes caps an emoji upload's reading; the emoji rules are
	// the community's (community.CheckEmojiImage).
	MaxEmojiBytes = community.MaxEmojiBytes
	// MaxImageSide and MaxImagePixels bound the size an attached image
	// may declare: members' clients decode it inline (a 100-megapixel
	// image is 400 MB decoded; a 48-megapixel phone photo fits).
	MaxImageSide       = 16384
	MaxImagePixels     = 100_000_000
	MaxEmojisPerServer = community.MaxEmojisPerCommunity
	fileURLTTL         = time.Hour
)

// allowedMIME is Together's allow-list, checked against sniffed content.
var allowedMIME = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true,
	"video/mp4": true, "video/webm": true, "audio/mpeg": true, "audio/ogg": true, "audio/webm": true,
	"application/pdf": true, "text/plain": true,
}

// sniff returns the allow-listed type of head, or "".
func sniff(head []byte) string {
	ct := http.DetectContentType(head)
	ct, _, _ = strings.Cut(ct, ";")
	switch ct {
	case "application/ogg":
		ct = "audio/ogg"
	case "audio/wave", "audio/wav":
		return ""
	}
	if ct == "video/webm" && bytes.Contains(head, []byte("A_OPUS")) && !bytes.Contains(head, []byte("V_")) {
		ct = "audio/webm"
	}
	if ct == "text/plain" {
		// Markup that sniffs as text (SVG, HTML fragments) is refused
		// outright rather than trusted to nosniff.
		low := bytes.ToLower(head)
		for _, tag := range []string{"<svg", "<html", "<script", "<!doctype", "<?xml", "<iframe"} {
			if bytes.Contains(low, []byte(tag)) {
				return ""
			}
		}
	}
	if allowedMIME[ct] {
		return ct
	}
	return ""
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName keeps a client file name's base, in a safe alphabet.
func safeName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Trim(unsafeName.ReplaceAllString(name, "_"), "._")
	if len(name) > 100 {
		name = name[len(name)-100:]
	}
	if name == "" {
		name = "file"
	}
	return name
}

// sign authorises GET /files/<message>/<stored> until exp.
func (s *API) sign(path string, exp int64) string {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s\n%d", path, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// fileURL is the attachment's relative URL, signed so <img> tags load it.
func (s *API) fileURL(a *Attachment) string {
	path := a.MessageID + "/" + a.StoredName
	exp := time.Now().Add(fileURLTTL).Unix()
	return "/files/" + path + "?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + s.sign(path, exp)
}

type attachmentDTO struct {
	ID        string    `json:"id"`
	MessageID string    `json:"message_id"`
	Filename  string    `json:"filename"`
	FileSize  int64     `json:"file_size"`
	MimeType  string    `json:"mime_type"`
	URL       string    `json:"url"`
	Width     *int      `json:"width"`
	Height    *int      `json:"height"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *API) toAttachments(as []*Attachment) []attachmentDTO {
	out := make([]attachmentDTO, len(as))
	for i, a := range as {
		out[i] = attachmentDTO{ID: a.ID, MessageID: a.MessageID, Filename: a.Filename, FileSize: a.FileSize, MimeType: a.MimeType,
			URL: s.fileURL(a), Width: a.Width, Height: a.Height, CreatedAt: a.CreatedAt}
	}
	return out
}

// Ready is nil when uploads are configured (a store and a directory), and
// rest.ErrNoUploads otherwise.
func (s *API) Ready() error {
	if s.store == nil || s.uploads == nil {
		return rest.ErrNoUploads
	}
	return nil
}

func (s *API) UploadAttachments(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.Ready(); err != nil {
		s.Fail(w, err)
		return
	}
	ctx := r.Context()
	ca, m, err := s.hooks.Message(ctx, p, r.PathValue("message_id"))
	if err != nil {
		s.Fail(w, err)
		return
	}
	if err := ca.MayAttach(m.AuthorID); err != nil {
		s.Fail(w, err)
		return
	}
	// Files are posted content: a member who may not send in the channel
	// now (no SEND_MESSAGES, or timed out) cannot add them to an older
	// message of theirs either.
	if _, err := s.Community.CanSend(ctx, p.Account.ID, ca.Channel.ID); err != nil {
		s.Fail(w, err)
		return
	}
	left, err := s.quotaLeft(ctx, p)
	if err != nil {
		s.Fail(w, err)
		return
	}
	httpserver.SetBodyLimit(w, r, MaxFileBytes+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		s.Fail(w, rest.Invalid("Expected a multipart/form-data body"))
		return
	}
	var saved []*Attachment
	cleanup := func() {
		for _, a := range saved {
			_ = s.uploads.Remove(a.MessageID + "/" + a.StoredName)
		}
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			cleanup()
			s.Fail(w, rest.Invalid("Malformed multipart body or file too large"))
			return
		}
		if part.FormName() != "files" {
			// As Together: a part of another name is passed over (the
			// body's limit still bounds it); only "files" are files.
			continue
		}
		if len(saved) >= MaxFilesPerMessage {
			cleanup()
			s.Fail(w, errTooManyFiles)
			return
		}
		if !s.roomFor() {
			cleanup()
			s.Bad(w, errDiskFull)
			return
		}
		max := int64(MaxFileBytes)
		if left >= 0 {
			max = min(max, left)
		}
		if max <= 0 {
			cleanup()
			s.Bad(w, s.quotaError())
			return
		}
		a, err := s.saveUpload(m.ID, part, max)
		if errors.Is(err, errPastMax) {
			err = s.quotaError()
		}
		if err != nil {
			cleanup()
			s.Bad(w, err)
			return
		}
		a.UploaderID = p.Account.ID
		if left >= 0 {
			left -= a.FileSize
		}
		saved = append(saved, a)
	}
	if len(saved) == 0 {
		s.Fail(w, rest.Invalid(`No files provided — include at least one field named "files"`))
		return
	}
	if err := s.store.AddAttachments(ctx, saved, MaxFilesPerMessage, s.quota(p)); err != nil {
		cleanup()
		if errors.Is(err, store.ErrOverQuota) {
			s.Bad(w, s.quotaError())
			return
		}
		if fault.KindOf(err) == fault.Invalid {
			// The message's files and these would pass the bound.
			err = errTooManyFiles
		}
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusCreated, s.toAttachments(saved))
}

// Together's refusals of an upload (attachments.rs).
var (
	errTooManyFiles = fault.Newf(fault.Invalid, "Messages may not have more than %d attachments", MaxFilesPerMessage)
	errTooLarge     = fault.New(fault.Invalid, "File size exceeds the 50 MB limit")
	errUnknownType  = fault.New(fault.Invalid,
		"File type could not be determined. Please upload a supported file type (image, video, audio, PDF, or text).")
)

// typeRefused is Together's refusal of a file whose sniffed type is not
// allowed (markup that sniffs as text among them, which Hearth refuses).
func typeRefused(head []byte) error {
	ct, _, _ := strings.Cut(http.DetectContentType(head), ";")
	switch ct {
	case "application/octet-stream":
		return errUnknownType
	case "text/plain":
		return fault.New(fault.Invalid, "Text that looks like markup (HTML, SVG, XML) is not allowed")
	}
	return fault.Newf(fault.Invalid, "File type '%s' is not allowed", ct)
}

// readErrs remembers the first read error of r other than io.EOF, so a
// broken upload is told apart from a failing disk.
type readErrs struct {
	r   io.Reader
	err error
}

func (e *readErrs) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}

// errPastMax: a file was larger than the quota left, not than
// MaxFileBytes.
var errPastMax = errors.New("past the quota")

// saveUpload streams one part to <uploads>/<message>/<hex>_<name>, checking
// its size (at most max, no more than MaxFileBytes: errPastMax when max
// is the smaller and the file is larger) and sniffed type.
func (s *API) saveUpload(messageID string, part *multipart.Part, max int64) (*Attachment, error) {
	id := identity.NewID()
	name := safeName(part.FileName())
	stored := strings.ReplaceAll(id, "-", "") + "_" + name // the id's 32 hex digits
	head := make([]byte, 512)
	n, err := io.ReadFull(part, head)
	if n == 0 {
		return nil, rest.Invalid("Files must not be empty")
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, rest.Invalid("Could not read the upload")
	}
	head = head[:n]
	mime := sniff(head)
	if mime == "" {
		return nil, typeRefused(head)
	}
	if err := s.uploads.MkdirAll(messageID, 0o750); err != nil {
		return nil, err
	}
	rel := messageID + "/" + stored
	f, err := s.uploads.OpenFile(rel, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if errors.Is(err, fs.ErrNotExist) {
		// Sweep removed the message's empty directory in between.
		if err = s.uploads.MkdirAll(messageID, 0o750); err == nil {
			f, err = s.uploads.OpenFile(rel, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
		}
	}
	if err != nil {
		return nil, err
	}
	src := &readErrs{r: part}
	size, err := io.Copy(f, io.LimitReader(io.MultiReader(bytes.NewReader(head), src), max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err == nil && size > max && max < MaxFileBytes:
		err = errPastMax
	case err == nil && size > max:
		err = errTooLarge
	}
	if err != nil {
		_ = s.uploads.Remove(rel)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		if src.err != nil {
			// The client's body broke off (a part without its closing
			// boundary): its fault, not a server error.
			return nil, rest.Invalid("Malformed multipart body or file too large")
		}
		return nil, err
	}
	a := &Attachment{ID: id, MessageID: messageID, Filename: name, StoredName: stored, FileSize: size, MimeType: mime,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond), NodeID: s.cfg.NodeID}
	if strings.HasPrefix(mime, "image/") {
		// Every member's client decodes an image inline at the size it
		// declares (a GIF's frames may reach past its screen): a 50 KiB
		// PNG can declare 60000×60000 pixels, 14 GB to decode.
		rf, err := s.uploads.Open(rel)
		if err != nil {
			_ = s.uploads.Remove(rel)
			return nil, err
		}
		iw, ih, err := imagehdr.SizeOf(rf)
		rf.Close()
		if err != nil {
			// Unread, its size is unbounded: a browser's decoder may take
			// what Go's refuses.
			_ = s.uploads.Remove(rel)
			return nil, fault.Newf(fault.Invalid, "Image %q is not readable: its width and height could not be read", name)
		}
		if iw > MaxImageSide || ih > MaxImageSide || int64(iw)*int64(ih) > MaxImagePixels {
			_ = s.uploads.Remove(rel)
			return nil, fault.Newf(fault.Invalid, "Image %q is %dx%d pixels: images may be at most %dx%d and %d megapixels", name, iw, ih, MaxImageSide, MaxImageSide, MaxImagePixels/1_000_000)
		}
		a.Width, a.Height = &iw, &ih
	}
	return a, nil
}

func (s *API) ListAttachments(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.Ready(); err != nil {
		s.Fail(w, err)
		return
	}
	_, m, err := s.hooks.Message(r.Context(), p, r.PathValue("message_id"))
	if err != nil {
		s.Fail(w, err)
		return
	}
	as, err := s.store.Attachments(r.Context(), m.ID)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, s.toAttachments(as))
}

// ServeFile serves an attachment to a valid signature or to a caller who
// may view its message (Authorization header).
func (s *API) ServeFile(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	if err := s.Ready(); err != nil {
		s.Fail(w, err)
		return
	}
	ctx := r.Context()
	mid, stored := r.PathValue("message_id"), r.PathValue("filepath")
	notFound := fault.New(fault.NotFound, "File not found")
	if _, err := uuid.Parse(mid); err != nil || !filepath.IsLocal(stored) || strings.ContainsAny(stored, `/\`) {
		s.Fail(w, notFound)
		return
	}
	path := mid + "/" + stored
	q := r.URL.Query()
	exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
	signed := exp > time.Now().Unix() && hmac.Equal([]byte(q.Get("sig")), []byte(s.sign(path, exp)))
	if !signed {
		p, err := s.Authenticate(r)
		if err != nil {
			s.Fail(w, err)
			return
		}
		if _, _, err := s.hooks.Message(ctx, p, mid); err != nil {
			s.Fail(w, notFound)
			return
		}
	}
	a, err := s.store.Attachment(ctx, mid, stored)
	if err != nil {
		s.Fail(w, notFound)
		return
	}
	f, err := s.uploads.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && s.onPeer(a.NodeID) {
			s.fromPeer(w, r, a.NodeID, "/files/"+path+"/peer", attachmentPeer, notFound, mid, stored)
			return
		}
		s.Fail(w, notFound)
		return
	}
	defer f.Close()
	attachmentHeaders(w.Header(), a)
	http.ServeContent(w, r, "", a.CreatedAt, f)
}

// attachmentHeaders are the headers an attachment is served with, here
// or by the node holding it (PeerFile): its stored type, never sniffed,
// inline only for media, and sandboxed.
func attachmentHeaders(h http.Header, a *Attachment) {
	h.Set("Content-Type", a.MimeType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=3600")
	disp := "attachment"
	if t, _, _ := strings.Cut(a.MimeType, "/"); t == "image" || t == "video" || t == "audio" {
		disp = "inline"
	}
	h.Set("Content-Disposition", disp+`; filename="`+a.Filename+`"`)
}

// --- custom emoji ---

// errEmojiTooLarge is Together's refusal of an emoji image past 256 KiB.
var errEmojiTooLarge = fault.New(fault.Invalid, "Image size exceeds the 256 KB limit")

type emojiDTO struct {
	ID          string    `json:"id"`
	ServerID    string    `json:"server_id"`
	CreatedBy   string    `json:"created_by"`
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	ContentType string    `json:"content_type"`
	FileSize    int64     `json:"file_size"`
	CreatedAt   time.Time `json:"created_at"`
}

func toEmoji(e *Emoji) emojiDTO {
	return emojiDTO{ID: e.ID, ServerID: e.CommunityID, CreatedBy: e.CreatedBy, Name: e.Name, URL: "/emojis/" + e.ID,
		ContentType: e.ContentType, FileSize: e.FileSize, CreatedAt: e.CreatedAt}
}

func (s *API) ListEmojis(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.Ready(); err != nil {
		s.Fail(w, err)
		return
	}
	id, err := rest.ServerID(r)
	if err != nil {
		s.Fail(w, err)
		return
	}
	if _, err := s.Community.Access(r.Context(), p.Account.ID, id); err != nil {
		s.Fail(w, err)
		return
	}
	es, err := s.store.Emojis(r.Context(), id)
	if err != nil {
		s.Fail(w, err)
		return
	}
	out := rest.MapAll(es, toEmoji)
	rest.WriteJSON(w, http.StatusOK, out)
}

// emojiServer is the prologue of the emoji-managing routes: uploads
// configured, a server the caller may manage emojis in (owner or
// MANAGE_SERVER). It writes the error and returns ok=false otherwise.
func (s *API) emojiServer(w http.ResponseWriter, r *http.Request, p *identity.Principal) (id string, ok bool) {
	if err := s.Ready(); err != nil {
		s.Fail(w, err)
		return "", false
	}
	id, err := rest.ServerID(r)
	if err != nil {
		s.Fail(w, err)
		return "", false
	}
	a, err := s.Community.Access(r.Context(), p.Account.ID, id)
	if err != nil {
		s.Fail(w, err)
		return "", false
	}
	if err := a.MayManageEmojis(); err != nil {
		s.Fail(w, err)
		return "", false
	}
	return id, true
}

func (s *API) CreateEmoji(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, ok := s.emojiServer(w, r, p)
	if !ok {
		return
	}
	ctx := r.Context()
	if !s.roomFor() {
		s.Bad(w, errDiskFull)
		return
	}
	httpserver.SetBodyLimit(w, r, MaxEmojiBytes+16<<10)
	if err := r.ParseMultipartForm(MaxEmojiBytes + 16<<10); err != nil {
		s.Fail(w, rest.Invalid("Expected a multipart body with 'name' and 'image' (at most 256 KiB)"))
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	// The checks are the community's, their refusals Together's words
	// (custom_emojis.rs).
	if _, ok := r.MultipartForm.Value["name"]; !ok {
		s.Fail(w, rest.Invalid("Missing 'name' field"))
		return
	}
	name := r.FormValue("name")
	if err := community.CheckEmojiName(name); err != nil {
		if name == "" || len(name) > 32 {
			err = rest.Invalid("Emoji name must be between 1 and 32 characters")
		} else {
			err = rest.Invalid("Emoji name may only contain lowercase letters, digits, underscores, and hyphens")
		}
		s.Fail(w, err)
		return
	}
	f, hdr, err := r.FormFile("image")
	if err != nil {
		s.Fail(w, rest.Invalid("Missing 'image' field"))
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxEmojiBytes+1))
	if err != nil {
		s.Fail(w, errEmojiTooLarge)
		return
	}
	ct, err := community.CheckEmojiImage(data, hdr.Size)
	switch {
	case errors.Is(err, community.ErrEmojiTooLarge):
		err = errEmojiTooLarge
	case errors.Is(err, community.ErrEmojiType) && len(data) == 0:
		err = rest.Invalid("Image must not be empty")
	case errors.Is(err, community.ErrEmojiType):
		err = rest.Invalid("Image type could not be determined. Use JPEG, PNG, GIF, or WebP.")
		if t, _, _ := strings.Cut(http.DetectContentType(data), ";"); t != "application/octet-stream" {
			err = fault.Newf(fault.Invalid, "Image type '%s' is not allowed. Use JPEG, PNG, GIF, or WebP.", t)
		}
	}
	if err != nil {
		s.Fail(w, err)
		return
	}
	if left, err := s.quotaLeft(ctx, p); err != nil {
		s.Fail(w, err)
		return
	} else if left >= 0 && int64(len(data)) > left {
		s.Bad(w, s.quotaError())
		return
	}
	e := &Emoji{ID: identity.NewID(), CommunityID: id, CreatedBy: p.Account.ID, Name: name, ContentType: ct,
		FileSize: int64(len(data)), CreatedAt: time.Now().UTC().Truncate(time.Microsecond), NodeID: s.cfg.NodeID}
	if err := s.uploads.MkdirAll("emojis", 0o750); err != nil {
		s.Fail(w, err)
		return
	}
	if err := s.uploads.WriteFile("emojis/"+e.ID, data, 0o640); err != nil {
		s.Fail(w, err)
		return
	}
	if err := s.store.CreateEmoji(ctx, e, MaxEmojisPerServer, s.quota(p)); err != nil {
		_ = s.uploads.Remove("emojis/" + e.ID)
		if errors.Is(err, store.ErrOverQuota) {
			s.Bad(w, s.quotaError())
			return
		}
		if errors.Is(err, fault.Conflict) {
			// Together answers a taken name with 400, not 409.
			err = fault.Newf(fault.Invalid, "An emoji named '%s' already exists in this server", e.Name)
		}
		s.Fail(w, err)
		return
	}
	// Together broadcasts the CustomEmojiDto itself: its web client adds the
	// payload to the emoji picker as it stands.
	dto := toEmoji(e)
	s.hooks.Broadcast(ctx, id, "CUSTOM_EMOJI_CREATE", dto)
	rest.WriteJSON(w, http.StatusCreated, dto)
}

func (s *API) DeleteEmoji(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, ok := s.emojiServer(w, r, p)
	if !ok {
		return
	}
	ctx := r.Context()
	eid := r.PathValue("emoji_id")
	if err := s.store.DeleteEmoji(ctx, id, eid); err != nil {
		if errors.Is(err, fault.NotFound) {
			err = fault.New(fault.NotFound, "Emoji not found")
		}
		s.Fail(w, err)
		return
	}
	_ = s.uploads.Remove("emojis/" + eid)
	s.hooks.Broadcast(ctx, id, "CUSTOM_EMOJI_DELETE", map[string]string{"server_id": id, "emoji_id": eid})
	rest.NoContent(w)
}

func (s *API) ServeEmoji(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	if err := s.Ready(); err != nil {
		s.Fail(w, err)
		return
	}
	id := r.PathValue("emoji_id")
	if _, err := uuid.Parse(id); err != nil {
		s.Fail(w, fault.New(fault.NotFound, "Emoji not found"))
		return
	}
	e, err := s.store.Emoji(r.Context(), id)
	if err != nil {
		s.Fail(w, fault.New(fault.NotFound, "Emoji not found"))
		return
	}
	data, err := s.uploads.ReadFile("emojis/" + e.ID)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && s.onPeer(e.NodeID) {
			s.fromPeer(w, r, e.NodeID, "/emojis/"+e.ID+"/peer", emojiPeer, fault.New(fault.NotFound, "Emoji not found"), e.ID)
			return
		}
		s.Fail(w, fault.New(fault.NotFound, "Emoji not found"))
		return
	}
	emojiHeaders(w.Header(), e)
	_, _ = w.Write(data)
}

// emojiHeaders are the headers an emoji is served with, here or by the
// node holding it (PeerEmoji).
func emojiHeaders(h http.Header, e *Emoji) {
	h.Set("Content-Type", e.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=86400")
}
