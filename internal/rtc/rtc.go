// Package rtc is Hearth's one WebRTC media plane: the pion API every
// server-side peer connection is made from (the voice SFU, WHIP ingest and
// WHEP playback). It owns the sockets media travels on, so a deployment
// opens one UDP port for all media (ICE UDP mux) and, optionally, one TCP
// port for ICE-TCP (for clients whose network lets only TCP out). It holds
// no product rules: it does not know what a stage or a voice channel is.
package rtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Config says where the plane listens.
type Config struct {
	// UDPAddr is the host:port of the one UDP socket every peer
	// connection's media uses. Port 0 picks a free port (tests).
	UDPAddr string
	// TCPAddr is the host:port of the ICE-TCP listener (RFC 6544 passive
	// candidates). Empty: no ICE-TCP.
	TCPAddr string
	// PublicIPs replace the host candidates' addresses (a server behind
	// 1:1 NAT, or a container). Empty: the interfaces' own addresses.
	PublicIPs []netip.Addr
}

// Plane is a running media plane. Its zero value is not usable; make one
// with New and Close it at shutdown.
type Plane struct {
	api    *webrtc.API
	udp    *batchConn
	tcp    net.Listener
	udpMux ice.UDPMux
	tcpMux ice.TCPMux
	log    *slog.Logger
}

// New binds the sockets and builds the API: Opus, VP8, VP9, H.264 and AV1
// with NACK, RTCP reports, TWCC, the simulcast header extensions (mid,
// rid, repaired rid) and the audio-level extension (RFC 6464), so that a
// forwarding unit can see who speaks without decoding.
func New(cfg Config, log *slog.Logger) (*Plane, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Plane{log: log}
	ua, err := net.ResolveUDPAddr("udp", cfg.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("rtc: UDP address %q: %w", cfg.UDPAddr, err)
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("rtc: listen UDP %q: %w", cfg.UDPAddr, err)
	}
	p.udp = newBatchConn(udp)
	logs := LoggerFactory(log)
	p.udpMux = webrtc.NewICEUDPMux(logs.NewLogger("ice-udp"), p.udp)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if cfg.TCPAddr != "" {
		tcp, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("rtc: listen TCP %q: %w", cfg.TCPAddr, err)
		}
		p.tcp = tcp
		p.tcpMux = webrtc.NewICETCPMux(logs.NewLogger("ice-tcp"), tcp, 64)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}

	var se webrtc.SettingEngine
	se.LoggerFactory = logs
	se.SetICEUDPMux(p.udpMux)
	if p.tcpMux != nil {
		se.SetICETCPMux(p.tcpMux)
	}
	se.SetNetworkTypes(networks)
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if len(cfg.PublicIPs) > 0 {
		ips := make([]string, len(cfg.PublicIPs))
		for i, a := range cfg.PublicIPs {
			ips[i] = a.String()
		}
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: ips, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("rtc: public IPs: %w", err)
		}
	}

	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("rtc: codecs: %w", err)
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("rtc: audio level extension: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(me, ir, webrtc.WithInterceptorLoggerFactory(logs)); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("rtc: interceptors: %w", err)
	}
	p.api = webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir))
	return p, nil
}

// API is the pion API peer connections are made from.
func (p *Plane) API() *webrtc.API { return p.api }

// NewPeerConnection makes a server-side peer connection on the plane's
// sockets. ICE servers are not needed on the server side: the server's own
// candidates are host candidates on the mux (clients bring TURN).
func (p *Plane) NewPeerConnection() (*webrtc.PeerConnection, error) {
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("rtc: new peer connection: %w", err)
	}
	return pc, nil
}

// BeginBatch opens a batch of sends on the UDP socket: until the matching
// EndBatch, packets any peer connection of the plane writes over UDP are
// queued and then sent together, one sendmmsg per up to 128 packets
// (Linux; elsewhere both are no-ops). A fan-out wraps its writes of one
// packet (or frame) to every viewer in one batch. Every BeginBatch must
// be followed by EndBatch, soon: queued packets wait for it.
func (p *Plane) BeginBatch() { p.udp.begin() }

// EndBatch closes a batch and sends what is queued.
func (p *Plane) EndBatch() { p.udp.end() }

// UDPAddr is the bound media UDP address.
func (p *Plane) UDPAddr() net.Addr { return p.udp.LocalAddr() }

// TCPAddr is the bound ICE-TCP address, nil without one.
func (p *Plane) TCPAddr() net.Addr {
	if p.tcp == nil {
		return nil
	}
	return p.tcp.Addr()
}

// Close closes the sockets; peer connections made from the plane stop
// carrying media.
func (p *Plane) Close() error {
	var errs []error
	if p.tcpMux != nil {
		errs = append(errs, p.tcpMux.Close())
	} else if p.tcp != nil {
		errs = append(errs, p.tcp.Close())
	}
	if p.udpMux != nil {
		errs = append(errs, p.udpMux.Close())
	} else if p.udp != nil {
		errs = append(errs, p.udp.Close())
	}
	return errors.Join(errs...)
}
