package owncast

import (
	"context"
	"net/http"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// handleNotificationRegister is POST /api/notifications/register (user
// token): {channel: "BROWSER_PUSH_NOTIFICATION", destination: <push
// subscription JSON>}. Owncast answers 200 with an empty body. An address
// (an IPv6 /64 counting as one) may register notifyRegistrations an hour
// (Owncast: no bound); past it the answer is 400 with Retry-After, since
// Owncast's spec gives this operation no error status but 400 and 401 (and
// no default), and its API suite's response validator fails on any other.
func (s *Surface) handleNotificationRegister(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Channel     string `json:"channel"`
		Destination string `json:"destination"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if d := s.notifyRL.Allow(ratelimit.AddrKey(s.clientIP(r)), 1); !d.Allowed {
		writeReportError(w, &fault.Error{Kind: fault.RateLimited, RetryAfter: d.RetryAfter,
			Msg: "too many notification registrations from this address; try again later"})
		return
	}
	if err := s.d.Chat.RegisterNotification(r.Context(), req.Channel, req.Destination); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// browserNotificationConfig is /api/config's notifications.browser: the
// VAPID public key browsers subscribe with, while browser push is on.
func (s *Surface) browserNotificationConfig(ctx context.Context, st stagechat.Settings) map[string]any {
	out := map[string]any{"enabled": st.Notifications.Browser.Enabled}
	if st.Notifications.Browser.Enabled {
		if keys, err := s.d.Chat.BrowserPushKeys(ctx); err == nil {
			out["publicKey"] = keys.PublicKey
		} else {
			s.log.Warn("browser push keys", "err", err)
		}
	}
	return out
}
