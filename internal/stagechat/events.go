package stagechat

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
)

// TopicPrefix starts the topic of each stage chat's own events (messages
// travel on the message store's topics).
const TopicPrefix = "stagechat."

// Event types published on Service.Topic.
const (
	EventJoined       = "joined"        // Users joined (coalesced; Extra more were not announced)
	EventParted       = "parted"        // Users left
	EventNameChange   = "name_change"   // User renamed from OldName
	EventUserUpdated  = "user_updated"  // User's profile (colour, scopes, enable) changed
	EventUserDisabled = "user_disabled" // User was disabled: close their sockets
	EventAction       = "action"        // Body: an unstored action notice for everyone
	EventStream       = "stream"        // Online: the stream went on or off the air
	EventIPBanned     = "ip_banned"     // IP was banned by hand: close the sockets the ban covers (BanCovers)
)

// Event is one chat event.
type Event struct {
	Type    string    `json:"type"`
	ID      string    `json:"id"`
	At      time.Time `json:"at"`
	User    *User     `json:"user,omitempty"`
	Users   []*User   `json:"users,omitempty"`
	Extra   int       `json:"extra,omitempty"`
	OldName string    `json:"old_name,omitempty"`
	Body    string    `json:"body,omitempty"`
	Online  bool      `json:"online,omitempty"`
	IP      string    `json:"ip,omitempty"`
}

// Hook, when set, is called on the publishing node for every event (webhook
// delivery happens once, where the event happened).
type Hook func(Event)

// SetHook installs the local event hook.
func (s *Service) SetHook(h Hook) { s.hook = h }

func (s *Service) publish(ctx context.Context, e Event) {
	if s.hook != nil {
		s.stamp(&e)
		s.hook(e)
	}
	s.publishNoHook(ctx, e)
}

func (s *Service) stamp(e *Event) {
	if e.ID == "" {
		e.ID = identity.NewID()
	}
	if e.At.IsZero() {
		e.At = s.now().UTC()
	}
}

func (s *Service) publishNoHook(ctx context.Context, e Event) {
	s.stamp(&e)
	if e.User != nil {
		s.Forget(e.User.ID)
	}
	if s.pub == nil {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		s.log.Error("encode chat event", "err", err)
		return
	}
	if err := s.pub.Publish(context.WithoutCancel(ctx), s.Topic(), b); err != nil {
		s.log.Warn("publish chat event", "type", e.Type, "err", err)
	}
}
