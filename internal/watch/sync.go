package watch

import (
	"math/bits"
	"sort"
	"time"
)

// Fields is a set of the parts of a room's state that clients keep in
// step with: what changed since the last sync, or what a full sync holds.
type Fields uint32

// The fields of a room's state.
const (
	FieldName Fields = 1 << iota
	FieldTitle
	FieldDescription
	FieldTemporary
	FieldVisibility
	FieldQueueMode
	FieldCurrent
	FieldQueue
	FieldPlaying
	FieldPosition
	FieldSpeed
	FieldGrants
	FieldHasOwner
	FieldVoteCounts
	FieldSegments
	FieldAutoSkip
	FieldPrevQueue
	FieldRestore
	FieldVoteSkip
	FieldSkipVotes

	// AllFields is a full sync.
	AllFields = FieldSkipVotes<<1 - 1
)

// Has reports whether every field of f is in s.
func (s Fields) Has(f Fields) bool { return s&f == f }

// Len is the number of fields in s.
func (s Fields) Len() int { return bits.OnesCount32(uint32(s)) }

// VoteCount is how many accounts voted for a queued video (by Video.Key).
type VoteCount struct {
	Video string
	Count int
}

// Sync is a room's state at one moment: the fields named in Fields are
// set, the others are zero. ServerTime is when it was taken.
type Sync struct {
	Fields     Fields
	ServerTime time.Time

	Name        string
	Title       string
	Description string
	Temporary   bool
	Visibility  Visibility
	QueueMode   QueueMode
	Current     *Video
	Queue       []Video
	Playing     bool
	Position    float64
	Speed       float64
	Grants      Grants
	HasOwner    bool
	VoteCounts  []VoteCount // by video key
	Segments    []Segment
	AutoSkip    []string
	PrevQueue   []Video // nil: no previous queue to restore
	Restore     int
	VoteSkip    bool
	SkipVotes   []string // client ids of the accounts that voted to skip, sorted
}

// syncOf takes the fields f of the room's state. Caller holds mu.
func (r *Room) syncOf(f Fields) *Sync {
	now := r.now()
	s := &Sync{Fields: f, ServerTime: now}
	if f.Has(FieldName) {
		s.Name = r.name
	}
	if f.Has(FieldTitle) {
		s.Title = r.title
	}
	if f.Has(FieldDescription) {
		s.Description = r.description
	}
	if f.Has(FieldTemporary) {
		s.Temporary = r.temporary
	}
	if f.Has(FieldVisibility) {
		s.Visibility = r.visibility
	}
	if f.Has(FieldQueueMode) {
		s.QueueMode = r.queueMode
	}
	if f.Has(FieldCurrent) && r.current != nil {
		v := *r.current
		s.Current = &v
	}
	if f.Has(FieldQueue) {
		s.Queue = append([]Video{}, r.queue...)
	}
	if f.Has(FieldPlaying) {
		s.Playing = r.clock.Playing
	}
	if f.Has(FieldPosition) {
		s.Position = r.clock.Position(now)
	}
	if f.Has(FieldSpeed) {
		s.Speed = r.clock.speed()
	}
	if f.Has(FieldGrants) {
		s.Grants = r.grants
	}
	if f.Has(FieldHasOwner) {
		s.HasOwner = r.ownerID != ""
	}
	if f.Has(FieldVoteCounts) {
		s.VoteCounts = r.voteCounts()
	}
	if f.Has(FieldSegments) {
		s.Segments = append([]Segment{}, r.segments...)
	}
	if f.Has(FieldAutoSkip) {
		s.AutoSkip = append([]string{}, r.autoSkip...)
	}
	if f.Has(FieldPrevQueue) && r.prevQueue != nil {
		s.PrevQueue = append([]Video{}, r.prevQueue...)
	}
	if f.Has(FieldRestore) {
		s.Restore = r.restore
	}
	if f.Has(FieldVoteSkip) {
		s.VoteSkip = r.voteSkip
	}
	if f.Has(FieldSkipVotes) {
		s.SkipVotes = make([]string, 0, len(r.skipVotes))
		for _, c := range r.skipVotes {
			s.SkipVotes = append(s.SkipVotes, c)
		}
		sort.Strings(s.SkipVotes)
	}
	return s
}

func (r *Room) voteCounts() []VoteCount {
	keys := make([]string, 0, len(r.votes))
	for k, v := range r.votes {
		if len(v) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]VoteCount, 0, len(keys))
	for _, k := range keys {
		out = append(out, VoteCount{Video: k, Count: len(r.votes[k])})
	}
	return out
}
