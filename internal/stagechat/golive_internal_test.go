package stagechat

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/hearth-community/hearth/internal/webhooks"
	"github.com/hearth-community/hearth/internal/webpush"
)

// TestNotificationRetryPolicy: a queued notification is tried again only
// when the failure may pass (no answer, a timeout, 408, 429, 5xx); a
// target that refuses it (4xx, a gone or unusable subscription, an
// unreadable delivery) is not retried, and the retries are few (the
// delays run out within minutes).
func TestNotificationRetryPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err   error
		retry bool
	}{
		{&url.Error{Op: "Post", URL: "https://push.example/x", Err: errors.New("connection refused")}, true},
		{context.DeadlineExceeded, true},
		{&webhooks.StatusError{Code: 500}, true},
		{&webhooks.StatusError{Code: 503}, true},
		{&webhooks.StatusError{Code: 429}, true},
		{&webhooks.StatusError{Code: 408}, true},
		{&webhooks.StatusError{Code: 400}, false},
		{&webhooks.StatusError{Code: 401}, false},
		{&webhooks.StatusError{Code: 403}, false},
		{&webhooks.StatusError{Code: 404}, false},
		{&webhooks.StatusError{Code: 410}, false},
		{&webhooks.StatusError{Code: 413}, false},
		{fmt.Errorf("seal: %w", webpush.ErrBadSubscription), false},
		{errBadDelivery, false},
	} {
		if got := retryNotification(tc.err); got != tc.retry {
			t.Errorf("retry after %v = %v, want %v", tc.err, got, tc.retry)
		}
	}
	if len(notifyDelays) > 4 {
		t.Errorf("%d retries", len(notifyDelays))
	}
}
