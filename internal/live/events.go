package live

import (
	"context"
	"encoding/json"
	"time"
)

// TopicPrefix starts every live event topic: live.stage.<stage id>.<kind>.
const TopicPrefix = "live.stage."

// Event kinds (the last topic token).
const (
	EventStarted = "started" // webhooks: STREAM_STARTED
	EventStopped = "stopped" // webhooks: STREAM_STOPPED
	EventTitle   = "title"   // webhooks: STREAM_TITLE_UPDATED
)

// Topic is the bus topic of a stage's events of one kind.
func Topic(stageID, kind string) string { return TopicPrefix + stageID + "." + kind }

// Event is published on Topic(stage, kind) as JSON.
type Event struct {
	Kind         string     `json:"kind"`
	StageID      string     `json:"stageId"`
	DefaultStage bool       `json:"defaultStage"`
	Time         time.Time  `json:"time"`
	StreamTitle  string     `json:"streamTitle,omitempty"`
	Online       bool       `json:"online"`
	ViewerCount  int        `json:"viewerCount"`
	StartedAt    *time.Time `json:"startedAt,omitempty"`
	EndedAt      *time.Time `json:"endedAt,omitempty"`
	RemoteAddr   string     `json:"-"`
	Details      *StreamDetails
}

func (s *Service) publish(st *stage, kind string, fill func(*Event)) {
	if st == nil {
		return
	}
	e := Event{Kind: kind, StageID: st.id, DefaultStage: st.isDefault, Time: s.cfg.Now().UTC()}
	if t, err := s.st.Stage(context.WithoutCancel(s.ctx), st.id); err == nil {
		e.StreamTitle = t.Title
	}
	if fill != nil {
		fill(&e)
	}
	s.mu.RLock()
	obs := s.observers
	s.mu.RUnlock()
	for _, f := range obs {
		f(e)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	if err := s.pub.Publish(context.WithoutCancel(s.ctx), Topic(st.id, kind), b); err != nil {
		s.log.Warn("live: cannot publish event", "kind", kind, "err", err)
	}
}

// Observe calls f for every event that happens on this node (once per
// event cluster-wide, unlike a bus subscription, which every node gets):
// the hook for webhook deliveries. f must not block for long.
func (s *Service) Observe(f func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observers = append(append([]func(Event){}, s.observers...), f)
}
