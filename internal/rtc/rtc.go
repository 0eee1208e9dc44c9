// Package rtc is Hearth's one WebRTC media plane: the pion API every
// server-side peer connection is made from (the voice SFU, WHIP ingest and
// WHEP playback). It owns the sockets media travels on, so a deployment
// opens one UDP port for all media (ICE UDP mux) and, optionally, one TCP
// port for ICE-TCP (for clients whose network lets only TCP out). It holds
// no product rules: it does not know what a stage or a voice channel is.
package rtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/logging"
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
	// MaxTCPConns and MaxTCPConnsPerAddr bound the ICE-TCP connections open
	// at once, in all and from one address (an IPv6 /64); a connection past
	// either is closed at once. Zero: DefaultMaxTCPConns,
	// DefaultMaxTCPConnsPerAddr.
	MaxTCPConns, MaxTCPConnsPerAddr int
	// PublicIPs replace the host candidates' addresses (a server behind
	// 1:1 NAT, or a container). Empty: the interfaces' own addresses.
	PublicIPs []netip.Addr
	// Patience, when set, is how long a connection may take to come up or
	// stay silent before it counts as failed, in place of pion's clocks (a
	// candidate pair dropped after 7 unanswered checks, about 1.4 s; failed
	// after 25 s without traffic; a DTLS handshake abandoned after 30 s).
	// For tests that run a crowd of connections in one starved process;
	// servers keep pion's.
	Patience time.Duration
}

// Patient makes connections built with se wait up to d to come up, and
// through silences, in place of pion's clocks (Config.Patience): for tests,
// whose clients and servers share a starved process.
func Patient(se *webrtc.SettingEngine, d time.Duration) {
	se.SetICEMaxBindingRequests(uint16(min(d/(200*time.Millisecond), 60000))) //nolint:gosec // bounded above
	se.SetICETimeouts(d, d, 2*time.Second)
	se.SetDTLSConnectContextMaker(func() (context.Context, func()) {
		return context.WithTimeout(context.Background(), d)
	})
}

// Plane is a running media plane. Its zero value is not usable; make one
// with New and Close it at shutdown.
type Plane struct {
	api    *webrtc.API // connections with a send-side bandwidth estimate (SFU subscribers)
	plain  *webrtc.API // connections without one: receivers, and single-layer fan-outs (WHEP)
	udp    *batchConn
	tcp    net.Listener
	udpMux ice.UDPMux
	tcpMux ice.TCPMux
	log    *slog.Logger

	pcMu    sync.Mutex            // one connection made at a time, so that
	lastBWE cc.BandwidthEstimator // the estimator the build hands out is its own
}

// initialBWE is the send-side estimate a connection starts from (bits per
// second), before the remote's first TWCC feedback.
const initialBWE = 2_000_000

// New binds the sockets and builds the API: Opus, VP8, VP9, H.264 and AV1
// with NACK, RTCP reports, TWCC (feedback on what it receives, and a
// send-side bandwidth estimate from the feedback on what it sends), the simulcast header extensions (mid,
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
		if cfg.MaxTCPConns <= 0 {
			cfg.MaxTCPConns = DefaultMaxTCPConns
		}
		if cfg.MaxTCPConnsPerAddr <= 0 {
			cfg.MaxTCPConnsPerAddr = DefaultMaxTCPConnsPerAddr
		}
		p.tcp = newLimitListener(tcp, cfg.MaxTCPConns, cfg.MaxTCPConnsPerAddr)
		p.tcpMux = webrtc.NewICETCPMux(logs.NewLogger("ice-tcp"), p.tcp, 64)
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
	if cfg.Patience > 0 {
		Patient(&se, cfg.Patience)
	}
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

	if p.api, err = p.build(se, logs, true); err != nil {
		_ = p.Close()
		return nil, err
	}
	if p.plain, err = p.build(se, logs, false); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// build makes one API on the plane's setting engine: the codecs, the
// audio-level extension and the default interceptors; with bwe, also the
// send-side bandwidth estimator and the TWCC sequence numbers it reads.
// Connections that never choose what to send by the path's capacity (a
// publisher's, a WHEP viewer's single layer) leave the estimator out: it
// costs a feedback round per packet and decides nothing there.
func (p *Plane) build(se webrtc.SettingEngine, logs logging.LoggerFactory, bwe bool) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("rtc: codecs: %w", err)
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("rtc: audio level extension: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := defaultInterceptors(me, ir, logs, !bwe); err != nil {
		return nil, fmt.Errorf("rtc: interceptors: %w", err)
	}
	if bwe {
		// Send-side bandwidth estimation from the remote's TWCC feedback
		// (Google congestion control: delay gradient and loss), without its
		// pacer: a forwarding unit sends what it receives, and chooses layers
		// from the estimate instead. The header extension interceptor, added
		// last, stamps the transport-wide sequence numbers the estimator reads.
		est, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
			return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(initialBWE), gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
				gcc.WithLoggerFactory(logs))
		})
		if err != nil {
			return nil, fmt.Errorf("rtc: bandwidth estimator: %w", err)
		}
		est.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { p.lastBWE = e })
		ir.Add(est)
		if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, ir); err != nil {
			return nil, fmt.Errorf("rtc: TWCC sender: %w", err)
		}
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir)), nil
}

// defaultInterceptors registers pion's default interceptors (NACK
// generator and responder, RTCP sender and receiver reports, the simulcast
// header extensions, TWCC feedback for what the remote sends), and its
// statistics interceptor only when withStats is set. The statistics
// interceptor feeds PeerConnection.GetStats, which no server-side code
// reads, and costs a header copy (an allocation) and a lock for every
// packet sent: on an SFU subscriber's connection, every forwarded packet.
func defaultInterceptors(me *webrtc.MediaEngine, ir *interceptor.Registry, logs logging.LoggerFactory, withStats bool) error {
	if !withStats {
		if err := webrtc.ConfigureNackWithOptions(me, ir, []nack.GeneratorOption{nack.WithGeneratorLoggerFactory(logs)},
			nack.WithResponderLoggerFactory(logs)); err != nil {
			return err
		}
		if err := webrtc.ConfigureRTCPReportsWithOptions(ir, []report.ReceiverOption{report.WithReceiverLoggerFactory(logs)},
			report.WithSenderLoggerFactory(logs)); err != nil {
			return err
		}
		if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
			return err
		}
		return webrtc.ConfigureTWCCSenderWithOptions(me, ir, twcc.WithLoggerFactory(logs))
	}
	return webrtc.RegisterDefaultInterceptorsWithOptions(me, ir, webrtc.WithInterceptorLoggerFactory(logs))
}

// API is the pion API peer connections are made from.
func (p *Plane) API() *webrtc.API { return p.api }

// NewPeerConnection makes a server-side peer connection on the plane's
// sockets. ICE servers are not needed on the server side: the server's own
// candidates are host candidates on the mux (clients bring TURN).
// It has no send-side bandwidth estimate (NewPeerConnectionBWE has).
func (p *Plane) NewPeerConnection() (*webrtc.PeerConnection, error) {
	pc, err := p.plain.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("rtc: new peer connection: %w", err)
	}
	return pc, nil
}

// NewPeerConnectionBWE is NewPeerConnection and the connection's send-side
// bandwidth estimate: bits per second the path to the remote carries now,
// from its TWCC feedback on what this connection sends.
func (p *Plane) NewPeerConnectionBWE() (*webrtc.PeerConnection, func() int, error) {
	p.pcMu.Lock()
	defer p.pcMu.Unlock()
	p.lastBWE = nil
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, nil, fmt.Errorf("rtc: new peer connection: %w", err)
	}
	est := p.lastBWE
	if est == nil {
		return pc, nil, nil
	}
	return pc, est.GetTargetBitrate, nil
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
