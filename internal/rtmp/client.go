package rtmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Client is a minimal publishing client: enough to drive the server from
// tests and benchmarks without ffmpeg (connect, createStream, publish, then
// media messages).
type Client struct {
	c net.Conn
	r *ChunkReader
	w *ChunkWriter
}

// RefusedError is a publish the server answered with an error status.
type RefusedError struct{ Code, Description string }

func (e *RefusedError) Error() string { return e.Code + ": " + e.Description }

// Dial connects and performs the handshake.
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := ClientHandshake(c); err != nil {
		c.Close()
		return nil, err
	}
	return &Client{c: c, r: NewChunkReader(c), w: NewChunkWriter(c)}, nil
}

// Close closes the connection.
func (cl *Client) Close() error { return cl.c.Close() }

func (cl *Client) command(csid, streamID uint32, vals ...any) error {
	p, err := AppendAMF0(nil, vals...)
	if err != nil {
		return err
	}
	if err := cl.w.WriteMessage(&Message{CSID: csid, Type: TypeCommandAMF0, StreamID: streamID, Payload: p}); err != nil {
		return err
	}
	return cl.w.Flush()
}

// await reads messages until a command named one of names arrives.
func (cl *Client) await(names ...string) ([]any, error) {
	for {
		_ = cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		m, err := cl.r.ReadMessage()
		if err != nil {
			return nil, err
		}
		switch m.Type {
		case TypeSetChunkSize:
			if len(m.Payload) >= 4 {
				if err := cl.r.SetChunkSize(uint32(m.Payload[0])<<24 | uint32(m.Payload[1])<<16 | uint32(m.Payload[2])<<8 | uint32(m.Payload[3])); err != nil {
					return nil, err
				}
			}
		case TypeCommandAMF0:
			vals, err := DecodeAMF0(m.Payload)
			if err != nil {
				return nil, err
			}
			if len(vals) > 0 {
				for _, n := range names {
					if vals[0] == n {
						return vals, nil
					}
				}
			}
		}
	}
}

// Publish runs connect → createStream → publish for rtmp://host/app/key.
// A refusal is a *RefusedError.
func (cl *Client) Publish(app, key string) error {
	if err := cl.command(3, 0, "connect", 1.0, Object{"app": app, "type": "nonprivate", "tcUrl": "rtmp://localhost/" + app}); err != nil {
		return err
	}
	if _, err := cl.await("_result"); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := cl.command(3, 0, "createStream", 2.0, nil); err != nil {
		return err
	}
	if _, err := cl.await("_result"); err != nil {
		return fmt.Errorf("createStream: %w", err)
	}
	if err := cl.command(8, 1, "publish", 3.0, nil, key, "live"); err != nil {
		return err
	}
	vals, err := cl.await("onStatus")
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if len(vals) < 4 {
		return errors.New("publish: short onStatus")
	}
	info, _ := vals[3].(Object)
	code, _ := info["code"].(string)
	if code != "NetStream.Publish.Start" {
		desc, _ := info["description"].(string)
		return &RefusedError{Code: code, Description: desc}
	}
	_ = cl.c.SetDeadline(time.Time{})
	return nil
}

// WriteMedia sends one audio, video or data message on the publish stream.
func (cl *Client) WriteMedia(typ uint8, ts uint32, payload []byte) error {
	csid := uint32(6)
	if typ == TypeAudio {
		csid = 4
	}
	if err := cl.w.WriteMessage(&Message{CSID: csid, Type: typ, StreamID: 1, Timestamp: ts, Payload: payload}); err != nil {
		return err
	}
	return cl.w.Flush()
}

// SetChunkSize tells the server our outgoing chunk size and uses it.
func (cl *Client) SetChunkSize(n uint32) error {
	p := []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	if err := cl.w.WriteMessage(&Message{CSID: protocolCSID, Type: TypeSetChunkSize, Payload: p}); err != nil {
		return err
	}
	cl.w.SetChunkSize(n)
	return cl.w.Flush()
}

// Unpublish sends deleteStream.
func (cl *Client) Unpublish() error { return cl.command(3, 0, "deleteStream", 4.0, nil, 1.0) }
