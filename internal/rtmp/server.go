package rtmp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Handler decides on publishes and receives accepted streams.
type Handler interface {
	// Publish is called at the publish command. A nil error accepts the
	// stream; any error refuses it with NetStream.Publish.BadName and the
	// error's text, and the connection is closed.
	Publish(ctx context.Context, req PublishRequest) (Stream, error)
}

// PublishRequest describes a publish attempt.
type PublishRequest struct {
	App        string // the application ("live" in rtmp://host/live/key)
	Name       string // the stream name: the stream key, without any ?query
	RemoteAddr string
	// Disconnect drops the connection (an admin's "disconnect").
	Disconnect func()
}

// Stream receives one accepted publish. Calls come from one goroutine, in
// arrival order; data slices are owned by the callee.
type Stream interface {
	Metadata(meta Object)
	Audio(ts uint32, data []byte)
	Video(ts uint32, data []byte)
	// Close is called once when the publisher leaves: deleteStream, a
	// closed socket, a 10 s stall or an error (err says which).
	Close(err error)
}

// Config tunes the server.
type Config struct {
	Addr string
	// Listener, when set, is used instead of binding Addr (the caller bound
	// it, e.g. on port 0, and knows its address). The server closes it.
	Listener         net.Listener
	ReadTimeout      time.Duration // a publisher silent this long is gone (default 10 s)
	HandshakeTimeout time.Duration // default 10 s
	MaxConns         int           // concurrent connections (default 32; at most 8 per address)
	PublishTimeout   time.Duration // connect → publish must not take longer (default 30 s)
}

// Server accepts RTMP connections.
type Server struct {
	cfg   Config
	h     Handler
	log   *slog.Logger
	ln    net.Listener
	epoch time.Time
	sem   chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]*connInfo
	perIP map[string]int
	wg    sync.WaitGroup
}

// Limits on connections that have not (yet) published.
const (
	maxConnsPerIP = 8 // one address cannot take every slot
	// Until a publish is accepted (the stream key is only checked then),
	// a connection has no business sending anything but commands of a few
	// hundred bytes (connect, releaseStream, FCPublish, createStream,
	// publish) and protocol control, so it may hold at most this much:
	// one message's length and all unfinished messages together.
	unauthMaxMessage  = 64 << 10
	unauthMaxBuffered = 128 << 10
)

// remoteIP is what a connection counts under for maxConnsPerIP: its IPv4
// address, or its IPv6 address's /64 (one subscriber normally holds a
// whole /64 and could otherwise take every slot alone), as the HTTP
// listener, the rate limits and the ICE-TCP port count.
func remoteIP(c net.Conn) string { return addrKey(c.RemoteAddr()) }

func addrKey(a net.Addr) string {
	var ip netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	} else {
		return a.String()
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}

// NewServer binds cfg.Addr (so a taken port fails at start), or takes
// cfg.Listener.
func NewServer(cfg Config, h Handler, logger *slog.Logger) (*Server, error) {
	if h == nil {
		return nil, errors.New("rtmp: handler required")
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 32
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 30 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("rtmp: listen %s: %w", cfg.Addr, err)
		}
	}
	return &Server{cfg: cfg, h: h, log: logger, ln: ln, epoch: time.Now(), sem: make(chan struct{}, cfg.MaxConns),
		conns: map[net.Conn]*connInfo{}, perIP: map[string]int{}}, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run accepts connections until ctx is done, then closes every connection
// and waits for their handlers to finish.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("rtmp listening", "addr", s.ln.Addr().String())
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	var err error
	for {
		c, aerr := s.ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil && !errors.Is(aerr, net.ErrClosed) {
				err = fmt.Errorf("rtmp: accept: %w", aerr)
			}
			break
		}
		ip := remoteIP(c)
		s.mu.Lock()
		perIP := s.perIP[ip]
		s.mu.Unlock()
		if perIP >= maxConnsPerIP {
			s.log.Warn("rtmp connection refused: too many connections from one address", "remote", c.RemoteAddr().String())
			c.Close()
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			if !s.evictUnpublished() {
				s.log.Warn("rtmp connection refused: too many connections", "remote", c.RemoteAddr().String())
				c.Close()
				continue
			}
			// The evicted connection's slot is this one's now.
		}
		info := &connInfo{start: time.Now()}
		s.mu.Lock()
		s.conns[c] = info
		s.perIP[ip]++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(ctx, c, info)
			s.mu.Lock()
			delete(s.conns, c)
			if s.perIP[ip]--; s.perIP[ip] <= 0 {
				delete(s.perIP, ip)
			}
			slotGiven := info.evicted
			s.mu.Unlock()
			if !slotGiven {
				<-s.sem
			}
		}()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// connInfo is what the server knows of a connection for eviction.
type connInfo struct {
	start     time.Time
	publishes bool // it has reached publish: never evicted
	evicted   bool // closed to make room; its slot went to a newcomer
}

// evictUnpublished closes the oldest connection that has not reached
// publish, when every slot is taken, and reports whether it did; the
// caller takes its slot. Holding a slot needs no stream key (only publish
// checks one), so without this a few addresses could hold every slot with
// connections that never publish, renewing them every PublishTimeout,
// and keep every publisher out. Oldest first: a publisher that connects
// is only closed after every connection older than it, so keeping it out
// takes a flood of new connections, not a few idle ones.
func (s *Server) evictUnpublished() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var victim net.Conn
	var oldest *connInfo
	for c, info := range s.conns {
		if info.publishes || info.evicted {
			continue
		}
		if oldest == nil || info.start.Before(oldest.start) {
			victim, oldest = c, info
		}
	}
	if victim == nil {
		return false
	}
	oldest.evicted = true
	victim.Close()
	s.log.Info("rtmp connection closed to make room: it had not published", "remote", victim.RemoteAddr().String())
	return true
}

// session is one connection's state.
type session struct {
	s         *Server
	c         net.Conn
	r         *ChunkReader
	w         *ChunkWriter
	log       *slog.Logger
	app       string
	ackWindow uint32
	lastAck   uint64
	stream    Stream
	streamID  uint32
	closed    bool
	info      *connInfo
}

func (s *Server) serve(ctx context.Context, c net.Conn, info *connInfo) {
	remote := c.RemoteAddr().String()
	log := s.log.With("remote", remote)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	if err := serverHandshake(c, s.epoch); err != nil {
		log.Info("rtmp handshake failed", "err", err)
		return
	}
	_ = c.SetDeadline(time.Time{})
	ss := &session{s: s, c: c, r: NewChunkReader(c), w: NewChunkWriter(c), log: log, info: info}
	ss.r.SetLimits(unauthMaxMessage, unauthMaxBuffered) // lifted once a publish is accepted
	err := ss.loop(ctx)
	if ss.stream != nil {
		ss.stream.Close(err)
		ss.stream = nil
	}
	switch {
	case err == nil:
		log.Info("rtmp connection closed")
	case errors.Is(err, ErrProtocol) || errors.Is(err, ErrAMF):
		log.Warn("rtmp connection dropped: bad data from client", "err", err)
	default:
		log.Info("rtmp connection ended", "err", err)
	}
}

// errStall marks a publisher that sent nothing for ReadTimeout.
var errStall = errors.New("rtmp: publisher stalled")

func (ss *session) loop(ctx context.Context) error {
	start := time.Now()
	publishing := false
	for !ss.closed {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		unpublished := ss.stream == nil
		if publishing && unpublished {
			// The publish ended (FCUnpublish; deleteStream follows): the
			// connection has PublishTimeout again to publish or close,
			// rather than counting from its start and being dropped at
			// once as if it had never published.
			start = time.Now()
		}
		publishing = !unpublished
		if unpublished && time.Since(start) > ss.s.cfg.PublishTimeout {
			return fmt.Errorf("%w: no publish within %s", ErrProtocol, ss.s.cfg.PublishTimeout)
		}
		deadline := time.Now().Add(ss.s.cfg.ReadTimeout)
		if publishBy := start.Add(ss.s.cfg.PublishTimeout); unpublished && publishBy.Before(deadline) {
			// A message that never ends must not keep an unpublished
			// connection past PublishTimeout a byte at a time.
			deadline = publishBy
		}
		_ = ss.c.SetReadDeadline(deadline)
		m, err := ss.r.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if unpublished && time.Since(start) >= ss.s.cfg.PublishTimeout {
					return fmt.Errorf("%w: no publish within %s", ErrProtocol, ss.s.cfg.PublishTimeout)
				}
				return errStall
			}
			if errors.Is(err, net.ErrClosed) || isEOF(err) {
				return nil
			}
			return err
		}
		if err := ss.handle(ctx, m); err != nil {
			return err
		}
		if err := ss.maybeAck(); err != nil {
			return err
		}
	}
	return nil
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

func (ss *session) maybeAck() error {
	if ss.ackWindow == 0 || ss.r.BytesRead-ss.lastAck < uint64(ss.ackWindow) {
		return nil
	}
	ss.lastAck = ss.r.BytesRead
	p := binary.BigEndian.AppendUint32(nil, uint32(ss.r.BytesRead))
	return ss.send(&Message{CSID: protocolCSID, Type: TypeAck, Payload: p})
}

func (ss *session) send(ms ...*Message) error {
	_ = ss.c.SetWriteDeadline(time.Now().Add(ss.s.cfg.ReadTimeout))
	for _, m := range ms {
		if err := ss.w.WriteMessage(m); err != nil {
			return err
		}
	}
	return ss.w.Flush()
}

func (ss *session) handle(ctx context.Context, m *Message) error {
	switch m.Type {
	case TypeSetChunkSize:
		if len(m.Payload) < 4 {
			return fmt.Errorf("%w: short SetChunkSize", ErrProtocol)
		}
		return ss.r.SetChunkSize(binary.BigEndian.Uint32(m.Payload) & 0x7fffffff)
	case TypeAbort:
		if len(m.Payload) >= 4 {
			ss.r.Abort(binary.BigEndian.Uint32(m.Payload))
		}
	case TypeWindowAckSize:
		if len(m.Payload) < 4 {
			return fmt.Errorf("%w: short WindowAckSize", ErrProtocol)
		}
		ss.ackWindow = binary.BigEndian.Uint32(m.Payload)
	case TypeAck, TypeUserControl, TypeSetPeerBandwidth:
		// Nothing to do: we never wait for the peer's acknowledgements.
	case TypeAudio:
		if ss.stream != nil && len(m.Payload) > 0 {
			ss.stream.Audio(m.Timestamp, m.Payload)
		}
	case TypeVideo:
		if ss.stream != nil && len(m.Payload) > 0 {
			ss.stream.Video(m.Timestamp, m.Payload)
		}
	case TypeAggregate:
		return ss.aggregate(ctx, m)
	case TypeDataAMF0, TypeDataAMF3:
		p := m.Payload
		if m.Type == TypeDataAMF3 && len(p) > 0 {
			p = p[1:]
		}
		vals, err := DecodeAMF0(p)
		if err != nil {
			return err
		}
		ss.data(vals)
	case TypeCommandAMF0, TypeCommandAMF3:
		p := m.Payload
		if m.Type == TypeCommandAMF3 && len(p) > 0 {
			p = p[1:]
		}
		vals, err := DecodeAMF0(p)
		if err != nil {
			return err
		}
		return ss.command(ctx, m, vals)
	}
	return nil
}

// aggregate splits an aggregate message into its FLV-tag-shaped parts.
func (ss *session) aggregate(ctx context.Context, m *Message) error {
	p := m.Payload
	var base uint32
	first := true
	for len(p) >= 11 {
		typ := p[0]
		size := int(be24(p[1:]))
		ts := be24(p[4:]) | uint32(p[7])<<24
		if len(p) < 11+size+4 {
			return fmt.Errorf("%w: truncated aggregate message", ErrProtocol)
		}
		if first {
			base, first = ts, false
		}
		sub := &Message{CSID: m.CSID, Type: typ, StreamID: m.StreamID, Timestamp: m.Timestamp + ts - base,
			Payload: append([]byte(nil), p[11:11+size]...)}
		if typ == TypeAudio || typ == TypeVideo || typ == TypeDataAMF0 {
			if err := ss.handle(ctx, sub); err != nil {
				return err
			}
		}
		p = p[11+size+4:]
	}
	return nil
}

func (ss *session) data(vals []any) {
	if len(vals) > 0 && vals[0] == "@setDataFrame" {
		vals = vals[1:]
	}
	if len(vals) < 2 || vals[0] != "onMetaData" || ss.stream == nil {
		return
	}
	if o, ok := vals[1].(Object); ok {
		ss.stream.Metadata(o)
	}
}

func (ss *session) command(ctx context.Context, m *Message, vals []any) error {
	if len(vals) == 0 {
		return fmt.Errorf("%w: empty command", ErrProtocol)
	}
	name, _ := vals[0].(string)
	var txid float64
	if len(vals) > 1 {
		txid, _ = vals[1].(float64)
	}
	switch name {
	case "connect":
		if len(vals) > 2 {
			if o, ok := vals[2].(Object); ok {
				ss.app, _ = o["app"].(string)
			}
		}
		ss.app = strings.Trim(ss.app, "/")
		const chunk = 4096
		res, err := commandPayload("_result", txid,
			Object{"fmsVer": "FMS/3,0,1,123", "capabilities": 31.0},
			Object{"level": "status", "code": "NetConnection.Connect.Success", "description": "Connection succeeded.", "objectEncoding": 0.0})
		if err != nil {
			return err
		}
		if err := ss.send(
			&Message{CSID: protocolCSID, Type: TypeWindowAckSize, Payload: binary.BigEndian.AppendUint32(nil, 2500000)},
			&Message{CSID: protocolCSID, Type: TypeSetPeerBandwidth, Payload: append(binary.BigEndian.AppendUint32(nil, 2500000), 2)},
			&Message{CSID: protocolCSID, Type: TypeSetChunkSize, Payload: binary.BigEndian.AppendUint32(nil, chunk)},
		); err != nil {
			return err
		}
		ss.w.SetChunkSize(chunk)
		return ss.send(&Message{CSID: commandCSID, Type: TypeCommandAMF0, Payload: res})
	case "releaseStream", "FCPublish", "FCUnpublish", "getStreamLength":
		if name == "FCUnpublish" {
			ss.endPublish(nil)
		}
		if txid == 0 {
			return nil
		}
		res, err := commandPayload("_result", txid, nil, Undefined{})
		if err != nil {
			return err
		}
		return ss.send(&Message{CSID: commandCSID, Type: TypeCommandAMF0, Payload: res})
	case "createStream":
		ss.streamID = 1
		res, err := commandPayload("_result", txid, nil, 1.0)
		if err != nil {
			return err
		}
		return ss.send(&Message{CSID: commandCSID, Type: TypeCommandAMF0, Payload: res})
	case "publish":
		return ss.publish(ctx, m, vals)
	case "deleteStream", "closeStream":
		ss.endPublish(nil)
		ss.closed = true
	}
	return nil
}

func (ss *session) publish(ctx context.Context, m *Message, vals []any) error {
	if ss.stream != nil {
		return ss.status(m.StreamID, "error", "NetStream.Publish.BadName", "already publishing on this connection")
	}
	var name string
	if len(vals) > 3 {
		name, _ = vals[3].(string)
	}
	if i := strings.IndexByte(name, '?'); i >= 0 {
		name = name[:i]
	}
	app := ss.app
	if i := strings.IndexByte(app, '?'); i >= 0 {
		app = app[:i]
	}
	ss.s.mu.Lock()
	ss.info.publishes = true // a refused key closes the connection anyway
	ss.s.mu.Unlock()
	req := PublishRequest{App: app, Name: name, RemoteAddr: ss.c.RemoteAddr().String(), Disconnect: func() { ss.c.Close() }}
	st, err := ss.s.h.Publish(ctx, req)
	if err != nil {
		ss.log.Info("rtmp publish refused", "app", app, "reason", err.Error())
		_ = ss.status(m.StreamID, "error", "NetStream.Publish.BadName", err.Error())
		ss.closed = true
		return nil
	}
	ss.stream = st
	ss.r.SetLimits(MaxMessageSize, maxBuffered) // the key was good: media may follow
	ss.log.Info("rtmp publish started", "app", app)
	begin := &Message{CSID: protocolCSID, Type: TypeUserControl, Payload: []byte{0, 0, 0, 0, 0, byte(m.StreamID)}}
	if err := ss.send(begin); err != nil {
		return err
	}
	return ss.status(m.StreamID, "status", "NetStream.Publish.Start", "Publishing stream.")
}

func (ss *session) endPublish(err error) {
	if ss.stream != nil {
		ss.stream.Close(err)
		ss.stream = nil
	}
}

func (ss *session) status(streamID uint32, level, code, desc string) error {
	p, err := commandPayload("onStatus", 0, nil, Object{"level": level, "code": code, "description": desc})
	if err != nil {
		return err
	}
	return ss.send(&Message{CSID: 5, Type: TypeCommandAMF0, StreamID: streamID, Payload: p})
}

func commandPayload(name string, txid float64, args ...any) ([]byte, error) {
	return AppendAMF0(nil, append([]any{name, txid}, args...)...)
}
