package together

import (
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/surface/together/admin"
	"github.com/hearth-community/hearth/internal/surface/together/bots"
	"github.com/hearth-community/hearth/internal/surface/together/files"
	"github.com/hearth-community/hearth/internal/surface/together/polls"
)

// ExtrasStore persists attachments, emoji, polls and events, and lists a
// bot's messages (internal/store/together_extras.go); each route group
// declares its part.
type ExtrasStore interface {
	files.Store
	polls.Store
	bots.LogStore
	admin.TotalsStore
}

// BotStore persists bot records (internal/store/together_bots.go).
type BotStore = community.BotStore
