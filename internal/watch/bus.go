package watch

import (
	"encoding/json"
	"time"
)

// The bus encoding of room events: this package's own, read by every node
// of the same version (EncodeEvent, DecodeEvent). It writes only what an
// event holds, so a position sync stays a few dozen bytes.

type busEvent struct {
	Type     EventType    `json:"type"`
	Sync     *busSync     `json:"sync,omitempty"`
	Event    *EventRecord `json:"event,omitempty"`
	Chat     *Chat        `json:"chat,omitempty"`
	User     *UserUpdate  `json:"user,omitempty"`
	You      string       `json:"you,omitempty"`
	Text     string       `json:"text,omitempty"`
	Duration int          `json:"duration,omitempty"`
	Close    CloseReason  `json:"close,omitempty"`
	Message  string       `json:"message,omitempty"`
}

// busSync is a Sync with its unset fields left out. PrevQueue keeps null
// apart from an empty list (the first means nothing to restore).
type busSync struct {
	Fields      Fields      `json:"f"`
	ServerTime  time.Time   `json:"t"`
	Name        string      `json:"name,omitempty"`
	Title       string      `json:"title,omitempty"`
	Description string      `json:"description,omitempty"`
	Temporary   bool        `json:"temporary,omitempty"`
	Visibility  Visibility  `json:"visibility,omitempty"`
	QueueMode   QueueMode   `json:"queueMode,omitempty"`
	Current     *Video      `json:"current,omitempty"`
	Queue       []Video     `json:"queue,omitempty"`
	Playing     bool        `json:"playing,omitempty"`
	Position    float64     `json:"position,omitempty"`
	Speed       float64     `json:"speed,omitempty"`
	Grants      *Grants     `json:"grants,omitempty"`
	HasOwner    bool        `json:"hasOwner,omitempty"`
	VoteCounts  []VoteCount `json:"voteCounts,omitempty"`
	Segments    []Segment   `json:"segments,omitempty"`
	AutoSkip    []string    `json:"autoSkip,omitempty"`
	PrevQueue   *[]Video    `json:"prevQueue,omitempty"`
	Restore     int         `json:"restore,omitempty"`
	VoteSkip    bool        `json:"voteSkip,omitempty"`
	SkipVotes   []string    `json:"skipVotes,omitempty"`
}

// EncodeEvent is an event as rooms publish it on the bus.
func EncodeEvent(ev Event) ([]byte, error) {
	b := busEvent{Type: ev.Type, Event: ev.Event, Chat: ev.Chat, User: ev.User, You: ev.You, Text: ev.Text,
		Duration: ev.Duration, Close: ev.Close, Message: ev.Message}
	if s := ev.Sync; s != nil {
		b.Sync = &busSync{Fields: s.Fields, ServerTime: s.ServerTime, Name: s.Name, Title: s.Title,
			Description: s.Description, Temporary: s.Temporary, Visibility: s.Visibility, QueueMode: s.QueueMode,
			Current: s.Current, Queue: s.Queue, Playing: s.Playing, Position: s.Position, Speed: s.Speed,
			HasOwner: s.HasOwner, VoteCounts: s.VoteCounts, Segments: s.Segments, AutoSkip: s.AutoSkip,
			Restore: s.Restore, VoteSkip: s.VoteSkip, SkipVotes: s.SkipVotes}
		if s.Fields.Has(FieldGrants) {
			g := s.Grants
			b.Sync.Grants = &g
		}
		if s.PrevQueue != nil {
			pq := s.PrevQueue
			b.Sync.PrevQueue = &pq
		}
	}
	return json.Marshal(b)
}

// DecodeEvent reads an event from the bus. Lists a sync holds come back
// empty rather than nil, except PrevQueue, which is nil when there is no
// previous queue.
func DecodeEvent(data []byte) (Event, error) {
	var b busEvent
	if err := json.Unmarshal(data, &b); err != nil {
		return Event{}, err
	}
	ev := Event{Type: b.Type, Event: b.Event, Chat: b.Chat, User: b.User, You: b.You, Text: b.Text,
		Duration: b.Duration, Close: b.Close, Message: b.Message}
	if s := b.Sync; s != nil {
		f := s.Fields
		ev.Sync = &Sync{Fields: f, ServerTime: s.ServerTime, Name: s.Name, Title: s.Title,
			Description: s.Description, Temporary: s.Temporary, Visibility: s.Visibility, QueueMode: s.QueueMode,
			Current: s.Current, Queue: listIf(f, FieldQueue, s.Queue), Playing: s.Playing, Position: s.Position,
			Speed: s.Speed, HasOwner: s.HasOwner, VoteCounts: listIf(f, FieldVoteCounts, s.VoteCounts),
			Segments: listIf(f, FieldSegments, s.Segments), AutoSkip: listIf(f, FieldAutoSkip, s.AutoSkip),
			Restore: s.Restore, VoteSkip: s.VoteSkip, SkipVotes: listIf(f, FieldSkipVotes, s.SkipVotes)}
		if s.Grants != nil {
			ev.Sync.Grants = *s.Grants
		}
		if s.PrevQueue != nil {
			ev.Sync.PrevQueue = nonNil(*s.PrevQueue)
		}
	}
	return ev, nil
}

// listIf is l, or an empty list when the sync holds field f and l is nil.
func listIf[T any](f, field Fields, l []T) []T {
	if f.Has(field) && l == nil {
		return []T{}
	}
	return l
}
