package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

type storedSettings struct {
	Grants    Grants          `json:"grants"`
	UserRoles map[string]Role `json:"userRoles,omitempty"`
	Bans      map[string]bool `json:"bans,omitempty"`
	AutoSkip  []string        `json:"autoSkip"`
	Restore   int             `json:"restoreQueueBehavior"`
	VoteSkip  bool            `json:"enableVoteSkip"`
	Channel   string          `json:"channel,omitempty"` // the community channel the room belongs to
}

// The stored encoding of a room is this package's own: the rows written
// since rooms were first stored use these names, and every version must
// read them. Grants keep their [[role, mask], …] encoding (Grants'
// MarshalJSON).
type storedState struct {
	Queue     []storedVideo       `json:"queue,omitempty"`
	Current   *storedVideo        `json:"current,omitempty"`
	Position  float64             `json:"position"`
	Playing   bool                `json:"playing"`
	Speed     float64             `json:"speed"`
	PrevQueue []storedVideo       `json:"prevQueue,omitempty"`
	Votes     map[string][]string `json:"votes,omitempty"`
}

// storedVideo is a Video as rows hold it.
type storedVideo struct {
	Service     string   `json:"service"`
	ID          string   `json:"id"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Thumbnail   string   `json:"thumbnail,omitempty"`
	Length      float64  `json:"length,omitempty"`
	Mime        string   `json:"mime,omitempty"`
	Highlight   bool     `json:"highlight,omitempty"`
	HLSURL      string   `json:"hls_url,omitempty"`
	DashURL     string   `json:"dash_url,omitempty"`
	SrcURL      string   `json:"src_url,omitempty"`
	SubtitleURL string   `json:"subtitleUrl,omitempty"`
	StartAt     *float64 `json:"startAt,omitempty"`
	EndAt       *float64 `json:"endAt,omitempty"`
}

func storeVideos(vs []Video) []storedVideo {
	if vs == nil {
		return nil
	}
	out := make([]storedVideo, len(vs))
	for i, v := range vs {
		out[i] = storedVideo(v)
	}
	return out
}

func loadVideos(vs []storedVideo) []Video {
	if vs == nil {
		return nil
	}
	out := make([]Video, len(vs))
	for i, v := range vs {
		out[i] = Video(v)
	}
	return out
}

// recordLocked encodes the room for the store, as its next save (a higher
// Version than any encoded before). Caller holds r.mu.
func (r *Room) recordLocked() *Record {
	now := r.now()
	r.version++
	set := storedSettings{Grants: r.grants, UserRoles: r.userRoles, Bans: r.bans, AutoSkip: nonNil(r.autoSkip),
		Restore: r.restore, VoteSkip: r.voteSkip, Channel: r.channel}
	st := storedState{Queue: storeVideos(r.queue), Position: r.clock.Position(now), Playing: r.clock.Playing,
		Speed: r.clock.speed(), PrevQueue: storeVideos(r.prevQueue)}
	if r.current != nil {
		v := storedVideo(*r.current)
		st.Current = &v
	}
	if len(r.votes) > 0 {
		st.Votes = map[string][]string{}
		for k, v := range r.votes {
			for id := range v {
				st.Votes[k] = append(st.Votes[k], id)
			}
			slices.Sort(st.Votes[k])
		}
	}
	sb, _ := json.Marshal(set)
	stb, _ := json.Marshal(st)
	return &Record{Name: r.name, Title: r.title, Description: r.description, Visibility: r.visibility,
		QueueMode: r.queueMode, IsTemporary: r.temporary, OwnerID: r.ownerID, Settings: sb, State: stb,
		CreatedAt: r.createdAt, UpdatedAt: now, Gen: r.gen, Version: r.version}
}

// loadRoom builds a room from its stored record, applying the restore
// behaviour to a previous queue. The load starts a new generation of the
// row: a copy loaded before (elsewhere, or here before an unload) can no
// longer save.
func (s *Service) loadRoom(ctx context.Context, key string) (*Room, error) {
	rec, err := s.st.TakeRoom(ctx, key)
	if err != nil {
		if isNotFound(err) {
			return nil, ErrRoomNotFound
		}
		return nil, fmt.Errorf("watch: load room: %w", err)
	}
	var set storedSettings
	set.Grants = DefaultGrants()
	set.AutoSkip = slices.Clone(SegmentCategories)
	set.Restore = RestorePrompt
	if len(rec.Settings) > 0 {
		if err := json.Unmarshal(rec.Settings, &set); err != nil {
			return nil, fmt.Errorf("watch: room %s: bad settings: %w", rec.Name, err)
		}
	}
	var st storedState
	if len(rec.State) > 0 {
		if err := json.Unmarshal(rec.State, &st); err != nil {
			return nil, fmt.Errorf("watch: room %s: bad state: %w", rec.Name, err)
		}
	}
	now := s.now()
	r := &Room{svc: s, key: key, name: rec.Name, title: rec.Title, description: rec.Description,
		visibility: rec.Visibility, queueMode: rec.QueueMode, temporary: rec.IsTemporary, ownerID: rec.OwnerID,
		grants: set.Grants, userRoles: set.UserRoles, bans: set.Bans, autoSkip: set.AutoSkip, restore: set.Restore,
		voteSkip: set.VoteSkip, queue: loadVideos(st.Queue), prevQueue: loadVideos(st.PrevQueue),
		clock:    Clock{Base: st.Position, Since: now, Speed: st.Speed, Playing: st.Playing && st.Current != nil},
		lastSeen: now, createdAt: rec.CreatedAt, channel: set.Channel, gen: rec.Gen, version: rec.Version}
	if st.Current != nil {
		v := Video(*st.Current)
		r.current = &v
	}
	if err := s.linkChannel(ctx, r); err != nil {
		return nil, err
	}
	if r.clock.Speed <= 0 {
		r.clock.Speed = 1
	}
	for k, ids := range st.Votes {
		if r.votes == nil {
			r.votes = map[string]map[string]bool{}
		}
		r.votes[k] = map[string]bool{}
		for _, id := range ids {
			r.votes[k][id] = true
		}
	}
	if len(r.prevQueue) > 0 {
		switch r.restore {
		case RestoreNever:
			r.prevQueue = nil
		case RestoreAlways:
			if len(r.queue) == 0 && r.current == nil {
				r.queue, r.prevQueue = r.prevQueue, nil
			}
		}
	}
	return r, nil
}

// linkChannel links a room being loaded to the channel it backs (rooms
// stored before the link was) and makes a channel's room consistent with
// the channel's rules, saving it when that changed anything: rooms made
// with OpenTogetherTube's default grants, an owner or another visibility
// are fixed here.
func (s *Service) linkChannel(ctx context.Context, r *Room) error {
	ch := r.channel
	title := ""
	if ch == "" && s.channels != nil {
		var err error
		if ch, title, err = s.channels.ChannelOfRoom(ctx, r.name); err != nil {
			return fmt.Errorf("watch: room %s: its channel: %w", r.name, err)
		}
	}
	if ch == "" {
		return nil
	}
	changed := r.conformLocked(ch)
	if title != "" && title != r.title {
		r.title, changed = title, true
	}
	if changed {
		if err := s.st.SaveRoom(ctx, r.recordLocked()); err != nil {
			return fmt.Errorf("watch: room %s: link to its channel: %w", r.name, err)
		}
		s.log.Info("room linked to its community channel", "room", r.name, "channel", ch)
	}
	return nil
}
