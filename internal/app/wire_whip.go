package app

import (
	"context"

	"github.com/hearth-community/hearth/internal/surface/hearthapi"
)

// wireWebRTCLive serves WHIP ingest and WHEP playback for every stage on
// the WebRTC media plane. Without a plane (--rtc-udp-addr empty) the routes
// still answer, with 503 and the reason.
func (a *App) wireWebRTCLive(context.Context) error {
	if a.Live == nil {
		return nil
	}
	if a.RTC != nil {
		a.Live.SetPeerConnector(a.RTC)
	}
	api, err := hearthapi.NewLive(hearthapi.LiveDeps{Live: a.Live, Gate: &recordingGate{a: a}, TrustProxy: a.Config.TrustProxy,
		Log: a.Log.With("component", "webrtc-live"),
		Auth: func(ctx context.Context, tok string) (string, bool, error) {
			p, err := a.Identity.Authenticate(ctx, tok)
			if err != nil {
				return "", false, err
			}
			return p.Account.ID, p.Account.IsAdmin, nil
		}})
	if err != nil {
		return err
	}
	api.Register(a.HTTP)
	return nil
}
