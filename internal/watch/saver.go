package watch

import (
	"context"
	"sync"
	"time"
)

// RoomsSaver is a Store that can write several rooms in one transaction
// (all or none). The service uses it, when the store has it, to keep the
// rooms changed within one SaveDelay in one commit.
type RoomsSaver interface {
	SaveRooms(ctx context.Context, rs []*Record) error
}

// saver collects the rooms whose storable state changed (a seek, a pause,
// a tick that moved the queue) and writes them together SaveDelay after the
// first of them: one timer and one transaction per node and SaveDelay, not
// a timer and a commit per room. Under OTT load (200 rooms, a seek each
// every two seconds) a commit per room cost about a tenth of the server's
// CPU (docs/performance.md, branch ottsync). A change is stored at most
// SaveDelay after it was made, as before.
type saver struct {
	mu    sync.Mutex
	rooms []*Room
	timer *time.Timer
}

// queueSave lists r for the next batched save. Caller holds r.mu and has
// just set r.savePending.
func (s *Service) queueSave(r *Room) {
	s.saves.mu.Lock()
	defer s.saves.mu.Unlock()
	s.saves.rooms = append(s.saves.rooms, r)
	if s.saves.timer == nil {
		s.saves.timer = time.AfterFunc(s.cfg.SaveDelay, s.flushSaves)
	}
}

// flushSaves writes every listed room that still has a change to keep (a
// synchronous save or an unload since may have kept it already).
func (s *Service) flushSaves() {
	s.saves.mu.Lock()
	rooms := s.saves.rooms
	s.saves.rooms, s.saves.timer = nil, nil
	s.saves.mu.Unlock()
	recs := make([]*Record, 0, len(rooms))
	saved := rooms[:0]
	for _, r := range rooms {
		r.mu.Lock()
		if r.savePending && !r.unloaded {
			recs = append(recs, r.recordLocked())
			saved = append(saved, r)
		}
		r.savePending = false
		r.mu.Unlock()
	}
	s.saveAll(saved, recs)
}

// saveAll writes recs, the records of rooms, in one transaction where the
// store can, else (or when that fails: one room's row may be gone, or its
// copy stale) one by one, so one failing row loses no other room's save.
// A room whose copy is stale, or whose row is gone, is retired. The records
// were encoded before this write, under each room's lock, and a save of the
// same room may have been written since: the store keeps only the newer
// (Record.Version).
func (s *Service) saveAll(rooms []*Room, recs []*Record) {
	if len(recs) == 0 {
		return
	}
	if rs, ok := s.st.(RoomsSaver); ok && len(recs) > 1 {
		ctx, cancel := context.WithTimeout(s.lasting(), 5*time.Second)
		err := rs.SaveRooms(ctx, recs)
		cancel()
		if err == nil {
			return
		}
		s.log.Warn("save rooms in one transaction; saving one by one", "rooms", len(recs), "err", err)
	}
	for i, rec := range recs {
		if err := s.save(rec); err != nil {
			r := rooms[i]
			r.mu.Lock()
			s.retireFor(r, err)
			r.mu.Unlock()
		}
	}
}
