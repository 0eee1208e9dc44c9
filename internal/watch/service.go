package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// Record is a room as stored. Settings and State are JSON owned by this
// package; the store keeps them opaque.
type Record struct {
	Name        string
	Title       string
	Description string
	Visibility  Visibility
	QueueMode   QueueMode
	IsTemporary bool
	OwnerID     string
	Settings    json.RawMessage
	State       json.RawMessage
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Gen is the generation of the loaded copy that wrote or may write the
	// row: every load (TakeRoom) starts a new one, and a save or a delete
	// naming an older one is refused (ErrSuperseded). Zero in a record to
	// save writes it whoever loaded the room since (tests, dev seeding).
	Gen int64
	// Version orders one copy's saves: a save is kept only when its
	// version is above the row's, so a save encoded earlier and written
	// later (the batched saver against a claim's own save) is dropped, as
	// the later one already holds everything it had.
	Version int64
}

// ErrSuperseded is a store's answer to a save or a delete from a copy of a
// room loaded before the row's current one: another node took the room
// over (this node's lease ran out while it stalled), or this node loaded
// it again. The copy is stale; its state must not reach the row.
var ErrSuperseded = fault.New(fault.Conflict, "watch: the room was loaded again since this copy was")

// Store persists rooms. RoomByName matches names case-insensitively and
// returns fault.NotFound; CreateRoom returns fault.Conflict for a taken
// name.
//
// Rooms are saved whole (every mutable column), from the one copy that runs
// the room: the copy on the node holding the room's lease (cluster.go), or
// the node's only copy unclustered. A node can still hold a copy it no
// longer runs (it stalled past its lease and another node loaded the room;
// a save encoded before an unload and written after the next load), so
// the row is fenced: TakeRoom starts a new generation at every load, and
// SaveRoom and DeleteRoom with a record's Gen change the row only while it
// is that generation's, answering ErrSuperseded otherwise. Within one
// generation SaveRoom keeps only a Version above the row's.
type Store interface {
	CreateRoom(ctx context.Context, r *Record) error
	RoomByName(ctx context.Context, name string) (*Record, error)
	// TakeRoom is RoomByName for a copy that will run the room: it starts
	// a new generation of the row (returned in Gen), after which saves of
	// every copy loaded before are refused.
	TakeRoom(ctx context.Context, name string) (*Record, error)
	SaveRoom(ctx context.Context, r *Record) error
	// DeleteRoom removes a room's row if it is still generation gen's (0:
	// whichever).
	DeleteRoom(ctx context.Context, name string, gen int64) error
	RoomsByOwner(ctx context.Context, ownerID string) ([]*Record, error)
	// DeleteTemporaryRoomsBefore deletes the temporary rooms neither saved
	// nor run since t: a room whose lease (LeaseStore) was live at t or
	// later stays, whatever its last save, so a loaded room is never swept
	// under its users. (Every node of the app runs clustered and so holds
	// a lease for each room it runs, a single node too.)
	DeleteTemporaryRoomsBefore(ctx context.Context, t time.Time) (int, error)
}

// Publisher is the part of the bus rooms publish on.
type Publisher interface {
	Publish(ctx context.Context, topic string, data []byte) error
}

// Resolver fetches video metadata (package media).
type Resolver interface {
	// Info returns the metadata of one video.
	Info(ctx context.Context, service, id string) (Video, error)
	// ResolveURL returns the videos a URL stands for (one video, or a
	// playlist's items).
	ResolveURL(ctx context.Context, url string) ([]Video, error)
}

// RoomChat is one room chat message to keep.
type RoomChat struct {
	Room  string
	Actor Actor
	Text  string
}

// ChatSink keeps room chat (e.g. as a Hearth conversation). Each call gets
// what one writer had queued (at most ChatBatch messages), a room's in the
// order they were broadcast, so a store can keep them in one transaction;
// batch is reused after the call returns.
type ChatSink func(ctx context.Context, batch []RoomChat)

// Config tunes the service; zero fields take defaults.
type Config struct {
	SyncDelay    time.Duration // debounce of sync deltas (50ms)
	SaveDelay    time.Duration // debounce of state saves (1s)
	TickInterval time.Duration // room tick (1s)
	UnloadAfter  time.Duration // idle time before an empty room unloads (300s)
	TemporaryTTL time.Duration // how long a stored temporary room outlives its last save (2h)
	MaxChatBytes int           // 4096
	ChatWriters  int           // writers keeping room chat in the ChatSink (4)
	ChatQueue    int           // messages each chat writer may have waiting (1024)
	ChatLinger   time.Duration // how long a chat writer waits for more messages to keep in one batch (50ms; negative: none)
	// ChatKeepRate is how many room chat messages of one account are kept
	// a second, and ChatKeepRoomRate of one room, each with a burst ten
	// times that (5 and 20; negative: no bound). Past either a message is
	// still broadcast to the room, but not kept: chat is live first (OTT
	// keeps none), and neither one guest token nor a crowd of fresh ones
	// (a token is free) may fill the disk.
	ChatKeepRate     float64
	ChatKeepRoomRate float64
	AllowTemp        bool // temporary rooms may be created
	Now              func() time.Time
	DisableUnload    bool
	// Life is the node's life (internal/app/lifetime.go): background work
	// (cluster calls, segment fetches, publishes) takes its context from
	// it, so shutdown cancels it. Saves, unloads and lease releases, which
	// shutdown itself does, keep its values but not its end. Nil: a
	// context that never ends (tests).
	Life context.Context
}

// Service holds the rooms loaded on this node.
type Service struct {
	cfg      Config
	st       Store
	pub      Publisher
	media    Resolver
	chat     ChatSink
	chats    *chatLog
	keep     *ratelimit.Limiter // ChatKeepRate per account; nil: no bound
	keepRoom *ratelimit.Limiter // ChatKeepRoomRate per room; nil: no bound
	saves    saver
	log      *slog.Logger

	segments SegmentSource
	channels Channels
	now      func() time.Time

	mu    sync.Mutex
	rooms map[string]*Room
	load  map[string]*loading
	cl    *cluster
}

type loading struct {
	done  chan struct{}
	room  *Room
	err   error
	retry bool // an unload: once done, look again (the row is written)
}

// New builds the service.
func New(cfg Config, st Store, pub Publisher, media Resolver, logger *slog.Logger) (*Service, error) {
	if st == nil || pub == nil {
		return nil, errors.New("watch: store and publisher are required")
	}
	if cfg.SyncDelay <= 0 {
		cfg.SyncDelay = 50 * time.Millisecond
	}
	if cfg.SaveDelay <= 0 {
		cfg.SaveDelay = time.Second
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = time.Second
	}
	if cfg.UnloadAfter <= 0 {
		cfg.UnloadAfter = 300 * time.Second
	}
	if cfg.TemporaryTTL <= 0 {
		cfg.TemporaryTTL = 2 * time.Hour
	}
	if cfg.MaxChatBytes <= 0 {
		cfg.MaxChatBytes = 4096
	}
	if cfg.ChatWriters <= 0 {
		cfg.ChatWriters = 4
	}
	if cfg.ChatQueue <= 0 {
		cfg.ChatQueue = 1024
	}
	if cfg.ChatLinger == 0 {
		cfg.ChatLinger = 50 * time.Millisecond
	}
	if cfg.ChatKeepRate == 0 {
		cfg.ChatKeepRate = 5
	}
	if cfg.ChatKeepRoomRate == 0 {
		cfg.ChatKeepRoomRate = 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Life == nil {
		cfg.Life = context.Background()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	keep, err := keepLimiter(cfg.ChatKeepRate, cfg.Now)
	if err != nil {
		return nil, err
	}
	keepRoom, err := keepLimiter(cfg.ChatKeepRoomRate, cfg.Now)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, st: st, pub: pub, media: media, log: logger, now: cfg.Now, keep: keep, keepRoom: keepRoom,
		rooms: map[string]*Room{}, load: map[string]*loading{}, chats: newChatLog(cfg.ChatWriters, cfg.ChatQueue)}, nil
}

// keepLimiter is a chat keep rate's limiter (burst ten times the rate);
// nil for no bound.
func keepLimiter(rate float64, now func() time.Time) (*ratelimit.Limiter, error) {
	if rate <= 0 {
		return nil, nil
	}
	l, err := ratelimit.New(ratelimit.Config{Limit: rate, Burst: int(max(1, 10*rate)), Clock: now})
	if err != nil {
		return nil, fmt.Errorf("watch: chat keep rate: %w", err)
	}
	return l, nil
}

// life is the context of background work (Config.Life).
func (s *Service) life() context.Context { return s.cfg.Life }

// lasting is the context of work shutdown itself does (a save, an unload):
// the node's life's values, not its end.
func (s *Service) lasting() context.Context { return context.WithoutCancel(s.cfg.Life) }

// SetChatSink sets where room chat is kept besides the live broadcast.
// Call it before Run: Run's chat writers are what call the sink.
func (s *Service) SetChatSink(c ChatSink) { s.chat = c }

// ChatDropped is how many chat messages were broadcast but not handed to
// the ChatSink because it had fallen too far behind.
func (s *Service) ChatDropped() int64 { return s.chats.dropped.Load() }

// ChatUnkept is how many chat messages were broadcast but not kept because
// their author was past ChatKeepRate.
func (s *Service) ChatUnkept() int64 { return s.chats.unkept.Load() }

func (s *Service) chatPosted(r *Room, a Actor, text string) {
	if s.chat == nil {
		return
	}
	if (s.keep != nil && !s.keep.Allow(a.AccountID, 1).Allowed) || (s.keepRoom != nil && !s.keepRoom.Allow(r.name, 1).Allowed) {
		s.chats.unkept.Add(1)
		return
	}
	if s.chats.enqueue(RoomChat{Room: r.name, Actor: a, Text: text}) {
		return
	}
	now := s.now().UnixNano()
	if last := s.chats.lastWarn.Load(); now-last >= int64(time.Minute) && s.chats.lastWarn.CompareAndSwap(last, now) {
		s.log.Warn("room chat not kept: the message store is behind", "dropped_total", s.chats.dropped.Load())
	}
}

func (s *Service) publish(topic string, ev Event) {
	b, err := EncodeEvent(ev)
	if err != nil {
		s.log.Error("encode room event", "err", err)
		return
	}
	if err := s.pub.Publish(s.life(), topic, b); err != nil {
		s.log.Warn("publish room event", "topic", topic, "err", err)
	}
}

// Announce sends text to every room socket on every node.
func (s *Service) Announce(ctx context.Context, text string) error {
	b, _ := EncodeEvent(Event{Type: EvAnnouncement, Text: text})
	return s.pub.Publish(ctx, AnnouncementTopic, b)
}

var nameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

var reservedNames = []string{"list", "create", "generate"}

// ValidName reports whether name is a legal room name.
func ValidName(name string) bool {
	return len(name) >= 3 && len(name) <= 32 && nameRe.MatchString(name) && !slices.Contains(reservedNames, strings.ToLower(name))
}

// CreateInput is a new room.
type CreateInput struct {
	Name        string
	Title       string
	Description string
	Temporary   bool
	Visibility  Visibility
	QueueMode   QueueMode
	AutoSkip    *[]string
	OwnerID     string // set when the creator is logged in
	// Channel is the community channel the room belongs to: the room is
	// then unlisted, ownerless and permanent, with ChannelGrants.
	Channel string
}

// Create makes a room and loads it.
func (s *Service) Create(ctx context.Context, in CreateInput) (*Room, error) {
	return s.create(ctx, in, false)
}

func (s *Service) create(ctx context.Context, in CreateInput, generated bool) (*Room, error) {
	if !generated {
		if err := checkName(in.Name); err != nil {
			return nil, err
		}
	}
	if !generated && in.Channel == "" && s.channels != nil {
		// A client creating the room of a channel (the web app does, for a
		// channel made before rooms were linked) creates the channel's room.
		ch, title, err := s.channels.ChannelOfRoom(ctx, in.Name)
		if err != nil {
			return nil, fmt.Errorf("watch: create room: its channel: %w", err)
		}
		if ch != "" {
			in = CreateInput{Name: in.Name, Title: title, Channel: ch}
		}
	}
	if in.Temporary && !s.cfg.AllowTemp {
		return nil, errTempDisabled
	}
	if err := checkFields(in); err != nil {
		return nil, err
	}
	if in.Visibility == "" {
		in.Visibility = Public
	}
	if in.QueueMode == "" {
		in.QueueMode = QueueManual
	}
	autoSkip := slices.Clone(SegmentCategories)
	if in.AutoSkip != nil {
		autoSkip, _ = normaliseCategories(*in.AutoSkip) // checked above
	}
	key := strings.ToLower(in.Name)
	s.mu.Lock()
	_, loaded := s.rooms[key]
	s.mu.Unlock()
	if loaded {
		return nil, nameTaken(in.Name)
	}
	now := s.now()
	// The new row is generation 1, this copy's (a node loading it takes 2).
	r := &Room{svc: s, key: key, name: in.Name, title: in.Title, description: in.Description, visibility: in.Visibility,
		queueMode: in.QueueMode, temporary: in.Temporary, ownerID: in.OwnerID, grants: DefaultGrants(),
		autoSkip: autoSkip, restore: RestorePrompt, clock: Clock{Speed: 1, Since: now}, lastSeen: now, createdAt: now, gen: 1}
	if in.Channel != "" {
		r.conformLocked(in.Channel)
	}
	rec := r.recordLocked()
	if err := s.st.CreateRoom(ctx, rec); err != nil {
		if errors.Is(err, fault.Conflict) {
			return nil, nameTaken(in.Name)
		}
		return nil, fmt.Errorf("watch: create room: %w", err)
	}
	if p, here, err := s.claim(ctx, key); err == nil && !here {
		return p, nil // another node loaded it first; use it there
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rooms[key]; ok {
		return nil, nameTaken(in.Name)
	}
	s.rooms[key] = r
	return r, nil
}

// CheckCreate reports what Create would refuse in the fields of in alone
// (name, title, description, visibility, queue mode, categories), touching
// nothing: a surface checks a body before charging for it, as OTT's routes
// check their schema before taking rate-limit points.
func (s *Service) CheckCreate(in CreateInput) error {
	if err := checkName(in.Name); err != nil {
		return err
	}
	return checkFields(in)
}

// CheckGenerate is CheckCreate for Generate, which also needs temporary
// rooms allowed (OTT checks that first).
func (s *Service) CheckGenerate(autoSkip *[]string) error {
	if !s.cfg.AllowTemp {
		return errTempDisabled
	}
	return checkFields(CreateInput{AutoSkip: autoSkip})
}

var errTempDisabled = newErr(fault.Forbidden, CodeFeatureDisabled, "Temporary rooms are disabled.")

// NameIssue is one thing wrong with a new room's name, in the words and
// zod issue code of OTT's schema for it.
type NameIssue struct{ Code, Message string }

// NameIssues is all that is wrong with a new room's name, in the order
// OTT's zod schema finds it: at least 3 and at most 32 UTF-16 units (a
// valid name is ASCII, so this is ValidName's length), letters, digits,
// '_' and '-', and not a reserved name (matched ignoring case, as every
// room name is here; OTT compares exactly). None for a ValidName.
func NameIssues(name string) []NameIssue {
	var out []NameIssue
	n := len(utf16.Encode([]rune(name)))
	if n < 3 {
		out = append(out, NameIssue{"too_small", "too short, must be atleast 3 characters"})
	}
	if n > 32 {
		out = append(out, NameIssue{"too_big", "too long, must be at most 32 characters"})
	}
	if !nameRe.MatchString(name) {
		out = append(out, NameIssue{"invalid_string", "Invalid"})
	}
	if slices.Contains(reservedNames, strings.ToLower(name)) {
		out = append(out, NameIssue{"custom", "not allowed (reserved)"})
	}
	return out
}

func checkName(name string) error {
	issues := NameIssues(name)
	if len(issues) == 0 {
		return nil
	}
	msgs := make([]string, len(issues))
	for i, is := range issues {
		msgs[i] = is.Message
	}
	return BadArgument("name", strings.Join(msgs, "; "))
}

// checkFields checks a new room's fields other than its name; empty
// visibility and queue mode take their defaults.
func checkFields(in CreateInput) error {
	if err := validTitle(in.Title, 255, titleTooLongCreate); err != nil {
		return err
	}
	if err := validDescription(in.Description); err != nil {
		return err
	}
	if in.Visibility != "" && !in.Visibility.Valid() {
		return badVisibility(in.Visibility)
	}
	if in.QueueMode != "" && !in.QueueMode.Valid() {
		return badQueueMode(in.QueueMode)
	}
	if in.AutoSkip != nil {
		if _, err := normaliseCategories(*in.AutoSkip); err != nil {
			return err
		}
	}
	return nil
}

func nameTaken(name string) error {
	return newErr(fault.Invalid, CodeRoomNameTaken, fmt.Sprintf("The room %q is taken.", name))
}

// Generate creates a temporary room with a random (UUIDv4) name. It is
// unlisted, as OpenTogetherTube's generated rooms are (a room's own default
// there; only create defaults to public): a temporary room someone made for
// a link to share must not appear in everyone's room list.
func (s *Service) Generate(ctx context.Context, ownerID string, autoSkip *[]string) (*Room, error) {
	return s.create(ctx, CreateInput{Name: uuid.NewString(), Temporary: true, Visibility: Unlisted, OwnerID: ownerID,
		AutoSkip: autoSkip}, true)
}

// Get returns a loaded room, loading it from the store if needed.
func (s *Service) Get(ctx context.Context, name string) (*Room, error) {
	key := strings.ToLower(name)
	if !nameRe.MatchString(key) || len(key) > 64 {
		return nil, ErrRoomNotFound
	}
	s.mu.Lock()
	for {
		if r, ok := s.rooms[key]; ok {
			s.mu.Unlock()
			return r, nil
		}
		l, ok := s.load[key]
		if !ok {
			break
		}
		s.mu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if !l.retry {
			return l.room, l.err
		}
		s.mu.Lock()
	}
	l := &loading{done: make(chan struct{})}
	s.load[key] = l
	s.mu.Unlock()

	proxy, here, err := s.claim(ctx, key)
	switch {
	case err != nil:
		l.err = err
	case !here:
		l.room = proxy
	default:
		l.room, l.err = s.loadRoom(ctx, key)
		if l.err != nil {
			s.releaseLease(key)
		}
	}
	s.mu.Lock()
	delete(s.load, key)
	if l.err == nil && l.room.remote == "" {
		s.rooms[key] = l.room
	}
	s.mu.Unlock()
	close(l.done)
	return l.room, l.err
}

// Loaded returns the rooms loaded on this node.
func (s *Service) Loaded() []*Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		out = append(out, r)
	}
	return out
}

// OwnedRooms lists the stored permanent rooms of an account.
func (s *Service) OwnedRooms(ctx context.Context, ownerID string) ([]*Record, error) {
	recs, err := s.st.RoomsByOwner(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	out := recs[:0]
	for _, r := range recs {
		if !r.IsTemporary {
			out = append(out, r)
		}
	}
	return out, nil
}

// Handle runs a request from a in room r; clientID is the connection it
// came from ("" for REST calls from an account not connected).
func (s *Service) Handle(ctx context.Context, r *Room, a Actor, clientID string, req Request) error {
	// Metadata is fetched on the node the request arrived at, before the
	// room's lock is taken (and before forwarding to the room's node).
	var videos []Video
	var err error
	if r.remote == "" {
		a = r.actorFor(a, clientID)
	}
	switch req.Type {
	case ReqAdd:
		// As OTT, the permission and an already queued video are answered
		// before any metadata is fetched (a YouTube lookup spends API
		// quota), on whichever node the request arrived at.
		if _, err := s.precheck(ctx, r, a, clientID, req); err != nil {
			return err
		}
		videos, err = s.resolveAdd(ctx, req)
	case ReqPlayNow:
		if req.Video != nil {
			held, perr := s.precheck(ctx, r, a, clientID, req)
			if perr != nil {
				return perr
			}
			if !held {
				videos, err = s.resolveAdd(ctx, Request{Video: req.Video})
			}
		}
	}
	if err != nil {
		return err
	}
	return s.rerunStale(ctx, r, func(r *Room) error { return s.handleResolved(ctx, r, a, clientID, req, videos) })
}

// rerunStale runs op on r and, when r turned out a stale copy (errStale:
// the room was loaded again since, by the node that runs it now or here
// after an unload, and the change was not kept), once more on the room as
// Get finds it now: loaded again here, or on the node that took it over.
// The client's change is made where the room runs instead of refused for
// a move it cannot see (OTT's REST answered it 500). A call through a
// proxy needs none of this: the room's node answers a stale copy "moved"
// and call reruns the op (runOp).
func (s *Service) rerunStale(ctx context.Context, r *Room, op func(*Room) error) error {
	err := op(r)
	if !errors.Is(err, errStale) {
		return err
	}
	nr, gerr := s.Get(ctx, r.key)
	switch {
	case gerr != nil:
		return gerr
	case nr == r:
		return err
	}
	return op(nr)
}

// precheck asks the room's node what an add or a play-now would be refused
// for before its videos are fetched (precheckAdd, precheckPlayNow); held
// reports a play-now of a video already in the room, which needs no fetch.
// A node that does not know the op (an older one, mid-upgrade) leaves the
// checks to the request itself, as before.
func (s *Service) precheck(ctx context.Context, r *Room, a Actor, clientID string, req Request) (held bool, err error) {
	if r.remote != "" {
		p, err := s.call(ctx, r, rpcReq{Op: "precheck", Actor: a, Client: clientID, Req: &req})
		var we *Error
		if errors.As(err, &we) && we.Code == CodeBadArgument && we.Arg == "op" {
			return false, nil
		}
		return p.OK, err
	}
	a = r.actorFor(a, clientID)
	if err := s.authorize(ctx, r, a); err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Type == ReqPlayNow && req.Video != nil {
		return r.precheckPlayNow(a, clientID, *req.Video)
	}
	return false, r.precheckAdd(a, clientID, req)
}

func (s *Service) handleResolved(ctx context.Context, r *Room, a Actor, clientID string, req Request, videos []Video) error {
	if r.remote != "" {
		_, err := s.call(ctx, r, rpcReq{Op: "handle", Actor: a, Client: clientID, Req: &req, Videos: videos})
		return err
	}
	a = r.actorFor(a, clientID)
	if err := s.authorize(ctx, r, a); err != nil {
		return err
	}
	if req.Type == ReqChat {
		// Automod sees only text the room would say: a line refused
		// anyway (empty, too long) is refused for that, not acted on.
		text := ""
		if req.Text != nil && len(*req.Text) <= s.cfg.MaxChatBytes {
			text = *req.Text
		}
		if err := s.maySend(ctx, r, a, text); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.handle(a, clientID, req, videos); err != nil {
		return err
	}
	// Queue, vote and settings changes are written before the client is
	// told they succeeded; playback (position moves anyway) and chat are not.
	switch req.Type {
	case ReqAdd, ReqRemove, ReqOrder, ReqVote, ReqShuffle, ReqPlayNow, ReqUndo, ReqRestoreQueue, ReqUpdateQueueItem, ReqSkip:
		r.savePending = false // this save keeps the change
		return s.saveNow(r)
	}
	return nil
}

func (s *Service) resolveAdd(ctx context.Context, req Request) ([]Video, error) {
	refs := req.Videos
	if req.Video != nil {
		refs = append([]VideoRef{*req.Video}, refs...)
	}
	if len(refs) > MaxAdd {
		return nil, BadArgument("videos", fmt.Sprintf("must hold at most %d videos", MaxAdd))
	}
	for _, ref := range refs {
		if err := validSubtitle(ref.SubtitleURL); err != nil {
			return nil, err
		}
		if ref.Service == "" || ref.ID == "" {
			return nil, BadArgument("video", "service and id are required")
		}
	}
	if s.media == nil {
		return nil, newErr(fault.Forbidden, CodeFeatureDisabled, "Adding videos is disabled.")
	}
	var out []Video
	if req.URL != "" {
		vs, err := s.media.ResolveURL(ctx, req.URL)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	for _, ref := range refs {
		v, err := s.media.Info(ctx, ref.Service, ref.ID)
		if err != nil {
			return nil, err
		}
		v.SubtitleURL = ref.SubtitleURL
		out = append(out, v)
	}
	return out, nil
}

// Claim makes an account the owner of a room that has none.
func (s *Service) Claim(ctx context.Context, r *Room, a Actor) error {
	return s.rerunStale(ctx, r, func(r *Room) error { return s.claimOwner(ctx, r, a) })
}

func (s *Service) claimOwner(ctx context.Context, r *Room, a Actor) error {
	if r.remote != "" {
		_, err := s.call(ctx, r, rpcReq{Op: "claim", Actor: a})
		return err
	}
	if err := s.authorize(ctx, r, a); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.channel != "" {
		return errChannelManaged("ownership")
	}
	if r.banned(a) {
		return ErrBanned
	}
	if r.ownerID != "" {
		return BadArgument("claim", "Room already has an owner.")
	}
	if !a.LoggedIn {
		return newErr(fault.Unauthorized, CodeInvalid, "Must be logged in to claim room ownership.")
	}
	r.ownerID = a.AccountID
	r.markDirty(FieldHasOwner)
	for _, m := range r.members {
		if m.AccountID == a.AccountID {
			r.publish(Event{Type: EvUser, User: updated(r.info(m))})
		}
	}
	return s.saveNow(r)
}

// ApplySettings changes settings on behalf of a (REST PATCH).
func (s *Service) ApplySettings(ctx context.Context, r *Room, a Actor, settings *Settings) error {
	return s.Handle(ctx, r, a, "", Request{Type: ReqApplySettings, Settings: settings})
}

// Kick closes a connection in the room; ban also bars the account.
func (s *Service) Kick(ctx context.Context, r *Room, a Actor, clientID string, ban bool) error {
	return s.rerunStale(ctx, r, func(r *Room) error { return s.kick(ctx, r, a, clientID, ban) })
}

func (s *Service) kick(ctx context.Context, r *Room, a Actor, clientID string, ban bool) error {
	if r.remote != "" {
		_, err := s.call(ctx, r, rpcReq{Op: "kick", Actor: a, Client: clientID, Ban: ban})
		return err
	}
	if err := s.authorize(ctx, r, a); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.banned(a) {
		return ErrBanned
	}
	why := CloseKicked
	if ban {
		why = CloseBanned
	}
	return r.kick(a, r.roleOf(a), clientID, why)
}

// Delete removes a permanent room: only its logged-in owner may (or
// Hearth itself, a.System).
func (s *Service) Delete(ctx context.Context, r *Room, a Actor) error {
	return s.rerunStale(ctx, r, func(r *Room) error { return s.deleteRoom(ctx, r, a) })
}

func (s *Service) deleteRoom(ctx context.Context, r *Room, a Actor) error {
	if r.remote != "" {
		_, err := s.call(ctx, r, rpcReq{Op: "delete", Actor: a})
		return err
	}
	if err := s.authorize(ctx, r, a); err != nil {
		return err
	}
	snap := r.Snapshot()
	if !a.LoggedIn && !a.System {
		return newErr(fault.Unauthorized, CodeInvalid, "Not logged in.")
	}
	if r.Channel() != "" && !a.System {
		return errChannelManaged("lifetime")
	}
	if snap.IsTemporary {
		return BadArgument("permanent", "Room is temporary.")
	}
	if snap.OwnerID != a.AccountID && !a.System {
		return newErr(fault.Forbidden, CodePermissionDenied, "Permission denied: you are not the owner of this room.")
	}
	if err := s.unload(r, CloseUnloaded, true); errors.Is(err, ErrSuperseded) {
		return errStale
	} else if err != nil {
		return err
	}
	return nil
}

// hearth is Hearth itself acting on a room, as its owner.
var hearth = Actor{Name: "Hearth", System: true}

// DeleteRoom removes the permanent room name whoever owns it, on whichever
// node has it loaded: Hearth's own clean-up (the room behind a deleted
// community channel), never a client's request.
func (s *Service) DeleteRoom(ctx context.Context, name string) error {
	r, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	return s.Delete(ctx, r, hearth)
}

// Retitle sets the title of room name as its owner would (the room behind
// a renamed community channel); the room's members see the change.
func (s *Service) Retitle(ctx context.Context, name, title string) error {
	r, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	return s.ApplySettings(ctx, r, hearth, &Settings{Title: &title})
}

// Unload drops a room from this node and closes its sockets. For a
// keepalive or admin unload (CloseUnloaded) a temporary room is deleted and
// a permanent room keeps its queue as prevQueue; for a shutdown the whole
// state is saved so the room resumes as it was.
func (s *Service) Unload(r *Room, why CloseReason) {
	if r.remote != "" {
		_, _ = s.callBG(r, rpcReq{Op: "unload", Why: why})
		return
	}
	if err := s.unload(r, why, false); err != nil {
		s.log.Error("unload room: store", "room", r.name, "err", err)
	}
}

// unload is Unload for a local room; drop deletes the room's row (else a
// temporary room's is deleted on CloseUnloaded and any other is saved). No
// Get loads the room again from a row about to change: on this node Gets of
// the name wait until the row is written, and the lease, which other nodes
// need, is released only after it.
func (s *Service) unload(r *Room, why CloseReason, drop bool) error {
	defer s.evict(r)()
	r.mu.Lock()
	if r.unloaded {
		r.mu.Unlock()
		if drop {
			// This copy no longer runs the room (unloaded meanwhile, retired
			// as stale, or its row deleted): where the room runs now, if it
			// still exists, decides. Deleting the row whatever its
			// generation deleted it under the copy another node had loaded
			// since, which lived on with nothing stored.
			return ErrSuperseded
		}
		return nil
	}
	if why == CloseUnloaded && !r.temporary {
		var prev []Video
		if r.current != nil {
			c := *r.current
			pos := r.clock.Position(r.now())
			c.StartAt = &pos
			prev = append(prev, c)
		}
		// What was queued at this unload replaces an older prevQueue nobody
		// restored; nothing queued leaves none (as OTT's onBeforeUnload).
		r.prevQueue = append(prev, r.queue...)
		if len(r.prevQueue) == 0 {
			r.prevQueue = nil
		}
		r.queue, r.current = nil, nil
		r.clock = Clock{Speed: 1, Since: r.now()}
		r.votes, r.skipVotes = nil, nil
	}
	// Fold the position; a shutdown keeps the play state so the room
	// resumes playing from there when it is loaded again.
	wasPlaying := r.clock.Playing
	r.clock.Pause(r.now())
	r.clock.Playing = wasPlaying && why == CloseShutdown
	r.clock.Since = r.now()
	rec := r.recordLocked()
	r.closeLocked(why)
	r.mu.Unlock()
	var err error
	if drop || (why == CloseUnloaded && r.temporary) {
		// Fenced: a stale copy (the room runs elsewhere now) deletes
		// nothing, as it saves nothing.
		err = s.dropRow(r.name, rec.Gen)
	} else {
		ctx, cancel := context.WithTimeout(s.lasting(), 5*time.Second)
		err = s.st.SaveRoom(ctx, rec)
		cancel()
		if isNotFound(err) {
			err = nil // the room was deleted meanwhile: nothing to keep
		}
	}
	s.releaseLease(r.key)
	return err
}

// evict removes r from the rooms loaded here and parks the Gets of its
// name on this node until the returned func runs: the caller writes or
// deletes the row and releases the lease first, so no Get loads the room
// again from a row about to change, nor claims a lease about to go.
func (s *Service) evict(r *Room) (unpark func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.key] != r {
		return func() {}
	}
	delete(s.rooms, r.key)
	if _, busy := s.load[r.key]; busy {
		return func() {}
	}
	parked := &loading{done: make(chan struct{}), retry: true}
	s.load[r.key] = parked
	return func() {
		s.mu.Lock()
		delete(s.load, r.key)
		s.mu.Unlock()
		close(parked.done)
	}
}

// dropRow deletes a room's row if it is still generation gen's (0:
// whichever); one already gone is no error.
func (s *Service) dropRow(name string, gen int64) error {
	ctx, cancel := context.WithTimeout(s.lasting(), 5*time.Second)
	defer cancel()
	if err := s.st.DeleteRoom(ctx, name, gen); err != nil && !errors.Is(err, fault.NotFound) {
		return fmt.Errorf("watch: delete room: %w", err)
	}
	return nil
}

// Run ticks every loaded room each TickInterval and unloads rooms left
// empty for UnloadAfter, and runs the writers that keep room chat in the
// ChatSink. When ctx ends every room is saved and its sockets are told to
// reconnect (1001), and chat still queued is written (for up to 5 s).
func (s *Service) Run(ctx context.Context) error {
	chatsDone := make(chan struct{})
	go func() {
		defer close(chatsDone)
		s.chats.run(ctx, func() ChatSink { return s.chat }, s.cfg.ChatLinger, 5*time.Second)
	}()
	defer func() { <-chatsDone }()
	t := time.NewTicker(s.cfg.TickInterval)
	defer t.Stop()
	sweep := time.NewTicker(10 * time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Shutdown()
			return nil
		case <-t.C:
			s.Tick()
		case <-sweep.C:
			if n, err := s.SweepTemporaryRooms(ctx); err != nil {
				s.log.Warn("sweep temporary rooms", "err", err)
			} else if n > 0 {
				s.log.Info("deleted expired temporary rooms", "count", n)
			}
		}
	}
}

// SweepTemporaryRooms deletes the stored temporary rooms neither saved nor
// run for TemporaryTTL (Run does every ten minutes). A room loaded on a
// live node is kept however long ago it was saved: its node's lease says
// it runs (Store.DeleteTemporaryRoomsBefore).
func (s *Service) SweepTemporaryRooms(ctx context.Context) (int, error) {
	return s.st.DeleteTemporaryRoomsBefore(ctx, s.now().Add(-s.cfg.TemporaryTTL))
}

// Tick runs one room tick on every loaded room.
func (s *Service) Tick() {
	ctx, cancel := context.WithTimeout(s.life(), 5*time.Second)
	s.clusterTick(ctx)
	cancel()
	now := s.now()
	for _, r := range s.Loaded() {
		r.mu.Lock()
		r.update()
		stale := len(r.members) == 0 && now.Sub(r.lastSeen) > s.cfg.UnloadAfter && !s.cfg.DisableUnload
		r.mu.Unlock()
		if stale {
			s.Unload(r, CloseUnloaded)
		}
	}
}

// Shutdown saves every room and closes its sockets with "reconnect".
func (s *Service) Shutdown() {
	for _, r := range s.Loaded() {
		s.Unload(r, CloseShutdown)
	}
}

// save writes one room's record. A store error is logged (the room goes on
// live; its next save writes the change too), except two, returned for the
// caller to retire the copy: ErrSuperseded (the copy is stale: retireLocked)
// and fault.NotFound (the room's row was deleted under it: goneLocked).
func (s *Service) save(rec *Record) error {
	ctx, cancel := context.WithTimeout(s.lasting(), 5*time.Second)
	defer cancel()
	err := s.st.SaveRoom(ctx, rec)
	switch {
	case errors.Is(err, ErrSuperseded):
		return err
	case isNotFound(err):
		return fault.NotFound
	case err != nil:
		s.log.Error("save room", "room", rec.Name, "err", err)
	}
	return nil
}

// retireFor retires r for err, what save answered (ErrSuperseded: a stale
// copy; fault.NotFound: its row is gone), and reports whether it did.
// Caller holds r.mu.
func (s *Service) retireFor(r *Room, err error) bool {
	switch {
	case errors.Is(err, ErrSuperseded):
		s.retireLocked(r)
	case isNotFound(err):
		s.goneLocked(r)
	default:
		return false
	}
	return true
}

// errStale answers a change made on a copy of a room that turned out stale
// (the room runs elsewhere now): it was not kept, and the client retries
// where the room runs.
var errStale = fault.New(fault.Unavailable, "The room moved to another node; try again.")

// saveNow writes the room synchronously (settings, roles, claims: the
// client is told these succeeded). A stale copy is retired and the change
// refused (errStale); a copy whose row was deleted (another node or path
// deleted the room, the temporary-room sweep) is retired as the delete
// would have and the change refused as for any unknown room
// (ErrRoomNotFound): it was answered success though nothing was kept.
// Caller holds r.mu.
func (s *Service) saveNow(r *Room) error {
	err := s.save(r.recordLocked())
	if !s.retireFor(r, err) {
		return nil
	}
	if errors.Is(err, ErrSuperseded) {
		return errStale
	}
	return ErrRoomNotFound
}

// retireLocked drops a copy of a room whose save was refused as stale
// (ErrSuperseded: the room was loaded again since, on another node that
// took it over when this node's lease ran out, or here after an unload),
// saving nothing: the sockets in it on this node are told to reconnect
// (1001) and join the room where it runs now. The lease is not this
// node's any more, so none is released. Caller holds r.mu.
func (s *Service) retireLocked(r *Room) {
	if r.unloaded {
		return
	}
	r.closeLocked(CloseShutdown)
	s.mu.Lock()
	if s.rooms[r.key] == r {
		delete(s.rooms, r.key)
	}
	s.mu.Unlock()
	s.log.Warn("room runs elsewhere now: dropped this node's stale copy", "room", r.name)
}

// goneLocked drops a copy of a room whose row was deleted under it (a
// save found no row): the room was deleted by another node or path than
// this copy's own delete (the temporary-room sweep, an unloaded copy's
// delete, by hand). As a delete does, its sockets on every node are told
// the room is gone (CloseUnloaded, not to come back), Gets of its name on
// this node find nothing, and this node's lease of it is released. Caller
// holds r.mu.
func (s *Service) goneLocked(r *Room) {
	if r.unloaded {
		return
	}
	r.closeLocked(CloseUnloaded)
	unpark := s.evict(r)
	s.releaseLease(r.key)
	unpark()
	s.log.Warn("room deleted under its loaded copy: dropped the copy", "room", r.name)
}

// closeLocked ends this copy of the room: it is unloaded with nothing left
// to save, its sync timer stopped, and its sockets told why (the room-wide
// close). unload, retireLocked and goneLocked end a copy so. Caller holds
// r.mu.
func (r *Room) closeLocked(why CloseReason) {
	r.unloaded, r.savePending = true, false
	if r.syncTimer != nil {
		r.syncTimer.Stop()
	}
	r.publish(Event{Type: EvClose, Close: why})
}

// ConversationID is the id of a room's chat in the message store.
func ConversationID(roomName string) string { return "watchroom:" + strings.ToLower(roomName) }

// Ensure returns the room named in.Name, creating it with in's settings
// when it does not exist yet (e.g. the room behind a community's watch
// channel). Concurrent calls on any node end with the same room.
func (s *Service) Ensure(ctx context.Context, in CreateInput) (*Room, error) {
	r, err := s.Get(ctx, in.Name)
	if err == nil || !errors.Is(err, ErrRoomNotFound) {
		return r, err
	}
	r, err = s.Create(ctx, in)
	if CodeOf(err) == CodeRoomNameTaken {
		return s.Get(ctx, in.Name)
	}
	return r, err
}
