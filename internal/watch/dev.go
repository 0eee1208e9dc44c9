package watch

import (
	"context"
	"encoding/json"
	"fmt"
)

// Testing aids behind OpenTogetherTube's development routes (/api/dev/*),
// which a node serves only when told to.

// Disconnect closes one connection with a normal close (1000), wherever
// its socket is: the close travels on the connection's bus topic.
func (s *Service) Disconnect(r *Room, clientID string) {
	s.publish(ClientTopic(r.key, clientID), Event{Type: EvClose, Close: CloseNormal})
}

// SeedPrevQueue writes prev as the stored room's previous queue, so that
// loading the room offers to restore it. Like OpenTogetherTube's, it is
// meant for a room that is not loaded (a loaded room overwrites it when it
// next saves): the write names no generation, so it neither fences a
// loaded copy nor is fenced.
func (s *Service) SeedPrevQueue(ctx context.Context, name string, prev []Video) error {
	rec, err := s.st.RoomByName(ctx, name)
	if err != nil {
		if isNotFound(err) {
			return ErrRoomNotFound
		}
		return fmt.Errorf("watch: seed previous queue: %w", err)
	}
	var st map[string]json.RawMessage
	if len(rec.State) > 0 {
		if err := json.Unmarshal(rec.State, &st); err != nil {
			return fmt.Errorf("watch: room %s: bad state: %w", rec.Name, err)
		}
	}
	if st == nil {
		st = map[string]json.RawMessage{}
	}
	b, err := json.Marshal(storeVideos(prev))
	if err != nil {
		return err
	}
	st["prevQueue"] = b
	if rec.State, err = json.Marshal(st); err != nil {
		return err
	}
	rec.UpdatedAt, rec.Gen = s.now(), 0
	return s.st.SaveRoom(ctx, rec)
}
