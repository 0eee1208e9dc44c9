package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/rtc"
	"github.com/hearth-community/hearth/internal/voice"
)

// turnSecretKey holds the TURN REST secret generated for the embedded TURN
// server when --turn-secret is not set; every node shares it.
const turnSecretKey = "voice.turn.secret"

// wireTURN starts the embedded TURN server when --turn-listen is set and
// returns the TURN URLs and REST secret /ice-servers hands out: an external
// --turn-url first, then the embedded server's UDP and TCP URLs.
func (a *App) wireTURN(ctx context.Context) (urls []string, secret string, err error) {
	cfg := a.Config
	secret = cfg.TurnSecret
	if cfg.TurnURL != "" {
		urls = append(urls, cfg.TurnURL)
	}
	if cfg.TurnListen == "" {
		return urls, secret, nil
	}
	if secret == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		if secret, err = a.DB.Identity().SetInstanceValueOnce(ctx, turnSecretKey, hex.EncodeToString(b)); err != nil {
			return nil, "", fmt.Errorf("turn: secret: %w", err)
		}
	}
	lo, hi, err := cfg.TurnPorts()
	if err != nil {
		return nil, "", err
	}
	tc := voice.TURNConfig{Listen: cfg.TurnListen, Secret: secret, MinPort: lo, MaxPort: hi, AllowPrivatePeers: cfg.TurnPrivatePeers}
	// The media plane's ports are the ones of this host that relayed
	// clients of the SFU, WHIP and WHEP reach through the relay.
	if a.RTC != nil {
		if u, ok := a.RTC.UDPAddr().(*net.UDPAddr); ok {
			tc.MediaUDPPort = uint16(u.Port) //nolint:gosec // a port
		}
		if t, ok := a.RTC.TCPAddr().(*net.TCPAddr); ok {
			tc.MediaTCPPort = uint16(t.Port) //nolint:gosec // a port
		}
	}
	if cfg.TurnPublicIP != "" {
		if tc.PublicIP, err = netip.ParseAddr(cfg.TurnPublicIP); err != nil {
			return nil, "", fmt.Errorf("turn: --turn-public-ip: %w", err)
		}
	}
	// A credential is refused once its account is disabled or deleted, or
	// its session signed out (or token revoked), not only when it expires.
	tc.Allow = func(ctx context.Context, account, grant string) bool {
		var session, token string
		switch {
		case strings.HasPrefix(grant, "s"):
			session = grant[1:]
		case strings.HasPrefix(grant, "t"):
			token = grant[1:]
		case grant != "":
			return false
		}
		return a.Identity.StillValid(ctx, account, session, token)
	}
	t, err := voice.StartTURN(ctx, tc, a.Log.With("component", "turn"))
	if err != nil {
		return nil, "", err
	}
	a.turn.Store(t)
	a.closers = append(a.closers, t.Close)
	a.Log.Info("TURN server listening", "addr", t.Addr().String())
	return append(urls, t.URLs()...), secret, nil
}

// wireRTC starts the WebRTC media plane when --rtc-udp-addr is set; a.RTC
// stays nil without one, and what needs it (the voice SFU, WHIP and WHEP)
// refuses with an error rather than answering for media that cannot flow.
func (a *App) wireRTC() error {
	cfg := a.Config
	if cfg.RTCUDPAddr == "" {
		return nil
	}
	rc := rtc.Config{UDPAddr: cfg.RTCUDPAddr, TCPAddr: cfg.RTCTCPAddr}
	for _, s := range cfg.RTCPublicIP {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("rtc: --rtc-public-ip %q: %w", s, err)
		}
		rc.PublicIPs = append(rc.PublicIPs, ip)
	}
	p, err := rtc.New(rc, a.Log.With("component", "rtc"))
	if err != nil {
		return err
	}
	a.RTC = p
	a.closers = append(a.closers, p.Close)
	a.Log.Info("WebRTC media plane listening", "udp", p.UDPAddr().String(), "tcp", fmt.Sprint(p.TCPAddr()))
	return nil
}

// voiceSFU is the voice SFU on the media plane; nil without one, and then
// VOICE_SFU answers an error and the web app stays on the mesh.
func (a *App) voiceSFU(access voice.Access) *voice.SFU {
	if a.RTC == nil {
		return nil
	}
	s := voice.NewSFU(a.RTC, access, a.Log.With("component", "sfu"))
	// A channel's room runs on the node holding its lease in the database;
	// other nodes reach it over the bus. Same code path with one node.
	if err := s.EnableCluster(voice.ClusterConfig{Bus: watchSubscriber{a.Bus}, Leases: a.DB.VoiceLeases(), Life: a.lifeCtx()}); err != nil {
		a.Log.Error("voice SFU: cluster", "err", err)
		return nil
	}
	// A ban, kick or leave, or a role or override change, takes those who
	// may no longer be in a call out of it, on the node running the room.
	if err := a.onCommunityEvents("voice SFU", s.OnCommunityEvent); err != nil {
		a.Log.Error("voice SFU: community events", "err", err)
		return nil
	}
	a.runners = append(a.runners, s.Run)
	a.closers = append(a.closers, func() error { s.Close(); return nil })
	return s
}

// wireCalls builds the rules of who stays in a call over the shared voice
// states and runs them on every community event and every revocation this
// node hears, from any node; the surfaces announce what they end.
func (a *App) wireCalls(comm *community.Service, sfu *voice.SFU) (*voice.Calls, error) {
	calls, err := voice.NewCalls(voice.CallsConfig{Store: a.DB.TogetherExtras(), Access: comm, Channels: comm.Store(), SFU: sfu,
		Log: a.Log.With("component", "voice")})
	if err != nil {
		return nil, err
	}
	// A member who left or was kicked or banned, or lost VIEW_CHANNEL,
	// CONNECT or SPEAK, leaves the call or its Go Live.
	if err := a.onCommunityEvents("voice calls", calls.OnCommunityEvent); err != nil {
		return nil, err
	}
	// An account whose every session was revoked (disabled, deleted, its
	// password changed or reset) leaves its call and ends its Go Live. Its
	// sockets close with the revocation, and the last one to close leaves
	// the call, but a member who joined over REST with no socket open had
	// none: a disabled account stayed listed in the call.
	sub, err := a.Bus.Subscribe(identity.RevokedTopic, func(m bus.Message) {
		var r identity.Revoked
		if json.Unmarshal(m.Data, &r) != nil || r.AccountID == "" {
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(a.lifeCtx(), 10*time.Second)
			defer cancel()
			calls.Disconnected(ctx, r.AccountID)
		}()
	})
	if err != nil {
		return nil, fmt.Errorf("voice calls: subscribe %s: %w", identity.RevokedTopic, err)
	}
	a.closers = append(a.closers, sub.Unsubscribe)
	return calls, nil
}
