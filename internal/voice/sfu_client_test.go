package voice_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/rtc"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/voice"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// world is a community with a voice channel and a text channel, an SFU on
// a real media plane, and a pion API for the clients.
type world struct {
	t      testing.TB
	comm   *community.Service
	sfu    *voice.SFU
	c      *community.Community
	voice  string
	text   string
	owner  string
	client *webrtc.API
	db     *store.DB
	plane  *countingPlane
}

// countingPlane is the media plane with its batches of sends counted.
type countingPlane struct {
	*rtc.Plane
	begins, ends atomic.Int64
}

func (c *countingPlane) BeginBatch() { c.begins.Add(1); c.Plane.BeginBatch() }
func (c *countingPlane) EndBatch()   { c.ends.Add(1); c.Plane.EndBatch() }

func newWorld(t testing.TB) *world {
	t.Helper()
	return newWorldOn(t, storetest.OpenSQLite(t))
}

// newWorldOn is newWorld on a given database.
func newWorldOn(t testing.TB, db *store.DB) *world {
	t.Helper()
	return newWorldPlane(t, db, rtc.Config{UDPAddr: "127.0.0.1:0"})
}

// newWorldPlane is newWorld on a given database and media plane config.
func newWorldPlane(t testing.TB, db *store.DB, cfg rtc.Config) *world {
	t.Helper()
	ctx := context.Background()
	comm, err := community.New(db.Community(), nil, db.Messages(), nil)
	if err != nil {
		t.Fatal(err)
	}
	plane, err := rtc.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingPlane{Plane: plane}
	w := &world{t: t, comm: comm, plane: counted, sfu: voice.NewSFU(counted, comm, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))), db: db}
	t.Cleanup(func() {
		w.sfu.Close()
		_ = plane.Close()
	})
	w.owner = w.account("owner")
	w.c, err = comm.Create(ctx, w.owner, community.CreateInput{Name: "voice", IsPublic: true,
		Channels: []*community.Channel{{Name: "general", Kind: community.KindText}, {Name: "Lounge", Kind: community.KindVoice}}})
	if err != nil {
		t.Fatal(err)
	}
	chans, err := comm.Channels(ctx, w.owner, w.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chans {
		switch ch.Kind {
		case community.KindVoice:
			w.voice = ch.ID
		case community.KindText:
			w.text = ch.ID
		}
	}

	w.client = clientAPI(t, nil)
	return w
}

// clientAPI is the pion API of the test clients; first, when set, is the
// innermost interceptor (closest to the network: a throttle).
func clientAPI(t testing.TB, first interceptor.Factory) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	// Opus and VP8 without RTX: the test client stamps mid and rid on its
	// packets itself, and pion's RTX would copy the rid onto the repair
	// stream (browsers send repaired-rid there instead).
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	for _, c := range []struct {
		p    webrtc.RTPCodecParameters
		kind webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: fb}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
	} {
		if err := me.RegisterCodec(c.p, c.kind); err != nil {
			t.Fatal(err)
		}
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if first != nil {
		ir.Add(first)
	}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(string) bool { return true })
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

func (w *world) account(name string) string {
	w.t.Helper()
	now := time.Now().UTC()
	a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: name, CreatedAt: now, UpdatedAt: now}
	if err := w.db.Identity().CreateAccount(context.Background(), a); err != nil {
		w.t.Fatal(err)
	}
	return a.ID
}

func (w *world) member(name string) string {
	w.t.Helper()
	id := w.account(name)
	if _, err := w.comm.Join(context.Background(), id, w.c.ID); err != nil {
		w.t.Fatal(err)
	}
	return id
}

// moderators makes a member of each name and gives them all one "mods"
// role with MUTE_MEMBERS, above plain members; it returns their ids.
func (w *world) moderators(names ...string) []string {
	w.t.Helper()
	ctx := context.Background()
	perms, pos := community.PermMuteMembers|community.DefaultMemberPerms, 1
	name := "mods"
	role, err := w.comm.CreateRole(ctx, w.owner, w.c.ID, community.RoleInput{Name: &name, Permissions: &perms, Position: &pos})
	if err != nil {
		w.t.Fatal(err)
	}
	ids := make([]string, len(names))
	for i, n := range names {
		ids[i] = w.member(n)
		if err := w.comm.SetMemberRole(ctx, w.owner, w.c.ID, ids[i], role.ID, true); err != nil {
			w.t.Fatal(err)
		}
	}
	return ids
}

// streamKey names a received stream: publisher account and track id.
type streamKey struct{ from, track string }

// peer is a pion client in the room: it publishes what it is told to and
// counts what it receives.
type peer struct {
	w    *world
	acct string
	part *voice.Participant
	pub  *webrtc.PeerConnection
	sub  *webrtc.PeerConnection

	mu       sync.Mutex
	got      map[streamKey]int
	ranks    map[streamKey]int // last simulcast rank seen per video stream
	top      map[streamKey]int // highest simulcast rank seen per video stream
	tracks   []voice.TrackInfo
	members  []voice.ParticipantInfo
	speaking map[string]bool
	closed   string
	changed  chan struct{}

	joined    chan struct{} // part is set
	camSender *webrtc.RTPSender
	keyNeeded [3]atomic.Bool
	stop      chan struct{}
	// layerBytes: each simulcast layer's payload size (0: 40, 80, 120)
	layerBytes [3]int
	// media, when set, is sent instead of synthetic packets, at pace
	// (media_files_test.go)
	media *mediaFiles
	pace  time.Duration
}

// joinN joins n peers, one after another: the owner, then members p1, p2….
func (w *world) joinN(ctx context.Context, n int) []*peer {
	peers := make([]*peer, n)
	for i := range peers {
		acct := w.owner
		if i > 0 {
			acct = w.member("p" + strconv.Itoa(i))
		}
		peers[i] = w.join(ctx, acct)
	}
	return peers
}

func (w *world) join(ctx context.Context, acct string) *peer {
	w.t.Helper()
	return w.joinOn(ctx, w.sfu, acct)
}

// joinOn joins through a given SFU (a node of a cluster).
func (w *world) joinOn(ctx context.Context, sfu *voice.SFU, acct string) *peer {
	w.t.Helper()
	return w.joinWith(ctx, sfu, w.client, acct)
}

// joinWith joins through a given SFU with a given client API.
func (w *world) joinWith(ctx context.Context, sfu *voice.SFU, api *webrtc.API, acct string) *peer {
	w.t.Helper()
	p := &peer{w: w, acct: acct, got: map[streamKey]int{}, ranks: map[streamKey]int{}, top: map[streamKey]int{}, speaking: map[string]bool{},
		changed: make(chan struct{}, 1), stop: make(chan struct{}), joined: make(chan struct{})}
	var err error
	if p.pub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		w.t.Fatal(err)
	}
	if p.sub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(p.close)
	p.sub.OnTrack(p.onTrack)
	// until may wait for a connection state
	p.pub.OnConnectionStateChange(func(webrtc.PeerConnectionState) { p.poke() })
	p.sub.OnConnectionStateChange(func(webrtc.PeerConnectionState) { p.poke() })
	part, err := sfu.Join(ctx, acct, w.voice, p.notice)
	if err != nil {
		w.t.Fatal(err)
	}
	p.part = part
	close(p.joined)
	return p
}

func (p *peer) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	_ = p.pub.Close()
	_ = p.sub.Close()
}

func (p *peer) poke() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

func (p *peer) notice(n voice.Notice) {
	p.mu.Lock()
	switch n.Type {
	case "offer":
		go p.answer(n.SDP)
	case "tracks":
		p.tracks = n.Tracks
	case "participants":
		p.members = n.Participants
	case "speaking":
		p.speaking[n.AccountID] = n.Speaking
	case "closed":
		p.closed = n.Reason
	}
	p.mu.Unlock()
	p.poke()
}

func (p *peer) answer(offer string) {
	<-p.joined // Join may send its first offer before it returns
	if err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return
	}
	ans, err := p.sub.CreateAnswer(nil)
	if err != nil {
		return
	}
	done := webrtc.GatheringCompletePromise(p.sub)
	if p.sub.SetLocalDescription(ans) != nil {
		return
	}
	<-done
	_ = p.part.Answer(p.sub.LocalDescription().SDP)
}

func (p *peer) onTrack(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	from, _, _ := strings.Cut(tr.StreamID(), ":")
	k := streamKey{from, tr.StreamID()}
	video := tr.Kind() == webrtc.RTPCodecTypeVideo
	go func() {
		buf := make([]byte, 1500)
		var pkt rtp.Packet
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			if pkt.Unmarshal(buf[:n]) != nil || len(pkt.Payload) == 0 {
				continue
			}
			p.mu.Lock()
			p.got[k]++
			if video {
				r := int(pkt.Payload[len(pkt.Payload)-1])
				p.ranks[k] = r
				if t, ok := p.top[k]; !ok || r > t {
					p.top[k] = r
				}
			}
			p.mu.Unlock()
			p.poke()
		}
	}()
}

// until waits for cond (read under p.mu) or fails the test at ctx's end.
func (p *peer) until(ctx context.Context, what string, cond func() bool) {
	p.w.t.Helper()
	for {
		p.mu.Lock()
		ok := cond()
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.changed:
		case <-ctx.Done():
			p.mu.Lock()
			got, sub := len(p.got), p.sub.SignalingState()
			var missing []string
			for _, tr := range p.tracks {
				if tr.AccountID != p.acct && p.got[streamKey{tr.AccountID, tr.TrackID}] < 5 {
					missing = append(missing, fmt.Sprintf("%s(%d)", tr.TrackID, p.got[streamKey{tr.AccountID, tr.TrackID}]))
				}
			}
			ntracks, closed := len(p.tracks), p.closed
			p.mu.Unlock()
			p.w.t.Fatalf("%s: %s never happened (%d streams received, %d tracks announced, short: %v; subscribe %s, %s; publish %s; closed %q)",
				p.acct, what, got, ntracks, missing, sub, p.sub.ConnectionState(), p.pub.ConnectionState(), closed)
		}
	}
}

// publish offers the given tracks (audio: a mic; video: a simulcast
// camera with rids q, h, f) and sends synthetic media until the peer
// closes: Opus-sized audio with a loud audio level, and VP8 frames whose
// last payload byte is the layer's rank.
func (p *peer) publish(ctx context.Context, audio, video bool) error {
	var mic *webrtc.TrackLocalStaticRTP
	var cams [3]*webrtc.TrackLocalStaticRTP
	var vidTr *webrtc.RTPTransceiver
	var audSender, vidSender *webrtc.RTPSender
	var err error
	sources := map[string]string{}
	if audio {
		if mic, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
			"mic", p.acct); err != nil {
			return err
		}
		if audSender, err = p.pub.AddTrack(mic); err != nil {
			return err
		}
		sources["mic"] = voice.SourceMic
	}
	if video {
		for i, rid := range []string{"q", "h", "f"} {
			if cams[i], err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
				"cam", p.acct, webrtc.WithRTPStreamID(rid)); err != nil {
				return err
			}
		}
		if vidTr, err = p.pub.AddTransceiverFromTrack(cams[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return err
		}
		vidSender = vidTr.Sender()
		p.camSender = vidSender
		for _, c := range cams[1:] {
			if err := vidSender.AddEncoding(c); err != nil {
				return err
			}
		}
		sources["cam"] = voice.SourceCamera
	}
	offer, err := p.pub.CreateOffer(nil)
	if err != nil {
		return err
	}
	done := webrtc.GatheringCompletePromise(p.pub)
	if err := p.pub.SetLocalDescription(offer); err != nil {
		return err
	}
	<-done
	answer, err := p.part.Publish(ctx, p.pub.LocalDescription().SDP, sources)
	if err != nil {
		return err
	}
	if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return err
	}
	var levelID, midID, ridID uint8
	if audSender != nil {
		for _, e := range audSender.GetParameters().HeaderExtensions {
			if e.URI == sdp.AudioLevelURI {
				levelID = uint8(e.ID)
			}
		}
	}
	if vidSender != nil {
		for _, e := range vidSender.GetParameters().HeaderExtensions {
			switch e.URI {
			case sdp.SDESMidURI:
				midID = uint8(e.ID)
			case sdp.SDESRTPStreamIDURI:
				ridID = uint8(e.ID)
			}
		}
		for i, rid := range []string{"q", "h", "f"} {
			go func() {
				for {
					pkts, _, err := vidSender.ReadSimulcastRTCP(rid)
					if err != nil {
						return
					}
					for _, pk := range pkts {
						if _, ok := pk.(*rtcp.PictureLossIndication); ok {
							p.keyNeeded[i].Store(true)
						}
					}
				}
			}()
		}
	}
	if p.media != nil {
		go p.sendFiles(mic, cams, vidTr, levelID, midID, ridID)
	} else {
		go p.send(mic, cams, vidTr, levelID, midID, ridID)
	}
	return nil
}

// stopCamera removes the camera and renegotiates, as a browser does when
// a camera or screen share is turned off.
func (p *peer) stopCamera(ctx context.Context) error {
	if err := p.pub.RemoveTrack(p.camSender); err != nil {
		return err
	}
	offer, err := p.pub.CreateOffer(nil)
	if err != nil {
		return err
	}
	done := webrtc.GatheringCompletePromise(p.pub)
	if err := p.pub.SetLocalDescription(offer); err != nil {
		return err
	}
	<-done
	answer, err := p.part.Publish(ctx, p.pub.LocalDescription().SDP, nil)
	if err != nil {
		return err
	}
	return p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer})
}

func (p *peer) send(mic *webrtc.TrackLocalStaticRTP, cams [3]*webrtc.TrackLocalStaticRTP, vidTr *webrtc.RTPTransceiver, levelID, midID, ridID uint8) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	level, _ := rtp.AudioLevelExtension{Level: 10, Voice: true}.Marshal()
	var seq uint16
	for frame := uint32(0); ; frame++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		seq++
		if mic != nil {
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: frame * 960, PayloadType: 111},
				Payload: make([]byte, 60)}
			if levelID != 0 {
				_ = pkt.SetExtension(levelID, level)
			}
			_ = mic.WriteRTP(pkt)
		}
		if cams[0] == nil {
			continue
		}
		mid := vidTr.Mid()
		for i, c := range cams {
			key := frame%30 == 0 || p.keyNeeded[i].Swap(false)
			hdr := byte(0x01)
			if key {
				hdr = 0x00
			}
			size := 40 * (i + 1)
			if p.layerBytes[i] > 0 {
				size = p.layerBytes[i]
			}
			payload := append([]byte{0x10, hdr, 0x9d, 0x01, 0x2a}, make([]byte, size)...)
			payload = append(payload, byte(i))
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: frame * 3000, PayloadType: 96, Marker: true},
				Payload: payload}
			_ = pkt.SetExtension(midID, []byte(mid))
			_ = pkt.SetExtension(ridID, []byte(c.RID()))
			_ = c.WriteRTP(pkt)
		}
	}
}

func (p *peer) count(from, track string) int {
	return p.got[streamKey{from, from + ":" + track}]
}

func (p *peer) rank(from, track string) (int, bool) {
	r, ok := p.ranks[streamKey{from, from + ":" + track}]
	return r, ok
}

// topRank is the highest rank from's track has had on this peer.
func (p *peer) topRank(from, track string) (int, bool) {
	r, ok := p.top[streamKey{from, from + ":" + track}]
	return r, ok
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}
