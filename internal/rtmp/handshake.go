package rtmp

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

const handshakeSize = 1536

// serverHandshake performs the plain RTMP handshake as the server: read C0
// and C1, send S0, S1 and S2 (an echo of C1), read C2. S1 carries a zero
// version field, which tells Flash-style clients (OBS's librtmp, ffmpeg) not
// to expect the digest variant.
func serverHandshake(rw io.ReadWriter, epoch time.Time) error {
	var c0c1 [1 + handshakeSize]byte
	if _, err := io.ReadFull(rw, c0c1[:]); err != nil {
		return fmt.Errorf("rtmp: handshake: read C0/C1: %w", err)
	}
	if v := c0c1[0]; v != 3 {
		return fmt.Errorf("%w: handshake version %d (want 3)", ErrProtocol, v)
	}
	out := make([]byte, 1+2*handshakeSize)
	out[0] = 3
	s1 := out[1 : 1+handshakeSize]
	binary.BigEndian.PutUint32(s1[0:], uint32(time.Since(epoch).Milliseconds()))
	if _, err := rand.Read(s1[8:]); err != nil {
		return fmt.Errorf("rtmp: handshake: %w", err)
	}
	s2 := out[1+handshakeSize:]
	copy(s2, c0c1[1:])
	if _, err := rw.Write(out); err != nil {
		return fmt.Errorf("rtmp: handshake: write S0/S1/S2: %w", err)
	}
	var c2 [handshakeSize]byte
	if _, err := io.ReadFull(rw, c2[:]); err != nil {
		return fmt.Errorf("rtmp: handshake: read C2: %w", err)
	}
	return nil
}

// ClientHandshake performs the plain handshake as a client (used by tests
// and benchmarks that drive the server without ffmpeg).
func ClientHandshake(rw io.ReadWriter) error {
	out := make([]byte, 1+handshakeSize)
	out[0] = 3
	if _, err := rand.Read(out[9:]); err != nil {
		return err
	}
	if _, err := rw.Write(out); err != nil {
		return err
	}
	in := make([]byte, 1+2*handshakeSize)
	if _, err := io.ReadFull(rw, in); err != nil {
		return err
	}
	if in[0] != 3 {
		return fmt.Errorf("%w: server version %d", ErrProtocol, in[0])
	}
	_, err := rw.Write(in[1 : 1+handshakeSize]) // C2 echoes S1
	return err
}
