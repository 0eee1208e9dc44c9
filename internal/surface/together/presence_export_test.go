package together

import (
	"context"

	"github.com/hearth-community/hearth/internal/community"
)

// PublishPresence lets the external benchmarks announce a presence change
// as the gateway does, without a profile write or a frame's rate limit.
func (s *Surface) PublishPresence(ctx context.Context, accountID, status string, custom *string) {
	s.publishPresence(ctx, accountID, &community.Profile{Status: status, CustomStatus: custom})
}
