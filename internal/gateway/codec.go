package gateway

import "github.com/coder/websocket"

// Codec turns a batch of queued messages into WebSocket data frames.
//
// The connection's writer calls Encode with everything queued at that moment
// (at least one message, oldest first). Encode writes frames by calling emit,
// and must preserve message order. buf is an empty scratch buffer lent for
// this call (from a pool shared by all connections): Encode may append to it
// to build frame payloads and returns it (possibly grown) for reuse; a frame passed to emit may alias buf. Encode
// must not keep batch, buf or emit after it returns. One Codec value may
// serve many connections concurrently, so it must hold no per-call state.
type Codec interface {
	Encode(buf []byte, batch [][]byte, emit func(typ websocket.MessageType, frame []byte) error) ([]byte, error)
}

// MessagePerFrame writes each message as its own frame (Together, OTT). The
// frames are text unless Binary is set.
type MessagePerFrame struct {
	Binary bool
}

// Encode implements Codec.
func (m MessagePerFrame) Encode(buf []byte, batch [][]byte, emit func(websocket.MessageType, []byte) error) ([]byte, error) {
	typ := websocket.MessageText
	if m.Binary {
		typ = websocket.MessageBinary
	}
	for _, msg := range batch {
		if err := emit(typ, msg); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// NewlineBatch joins the messages of a batch with '\n' into one text frame,
// as Owncast's chat socket does (clients split frames on newlines; messages
// must not contain raw newlines themselves). When MaxFrameBytes is positive
// a frame is ended before it would grow past it; a single message larger
// than MaxFrameBytes still goes out whole in its own frame.
type NewlineBatch struct {
	MaxFrameBytes int
}

// Encode implements Codec.
func (n NewlineBatch) Encode(buf []byte, batch [][]byte, emit func(websocket.MessageType, []byte) error) ([]byte, error) {
	if len(batch) == 1 {
		return buf, emit(websocket.MessageText, batch[0])
	}
	buf = buf[:0]
	inFrame := 0
	for _, msg := range batch {
		if inFrame > 0 && n.MaxFrameBytes > 0 && len(buf)+1+len(msg) > n.MaxFrameBytes {
			if err := emit(websocket.MessageText, buf); err != nil {
				return buf, err
			}
			buf, inFrame = buf[:0], 0
		}
		if inFrame > 0 {
			buf = append(buf, '\n')
		}
		buf = append(buf, msg...)
		inFrame++
	}
	return buf, emit(websocket.MessageText, buf)
}
