package gateway

import (
	"errors"
	"slices"
	"testing"

	"github.com/coder/websocket"
)

type frame struct {
	typ  websocket.MessageType
	data string
}

func TestCodecs(t *testing.T) {
	t.Parallel()
	msgs := func(ss ...string) [][]byte {
		out := make([][]byte, len(ss))
		for i, s := range ss {
			out[i] = []byte(s)
		}
		return out
	}
	text := websocket.MessageText
	tests := []struct {
		name  string
		codec Codec
		batch [][]byte
		want  []frame
	}{
		{"per frame text", MessagePerFrame{}, msgs("a", "b"), []frame{{text, "a"}, {text, "b"}}},
		{"per frame binary", MessagePerFrame{Binary: true}, msgs("a"), []frame{{websocket.MessageBinary, "a"}}},
		{"newline single", NewlineBatch{}, msgs(`{"a":1}`), []frame{{text, `{"a":1}`}}},
		{"newline joins", NewlineBatch{}, msgs("a", "b", "c"), []frame{{text, "a\nb\nc"}}},
		{"newline keeps empty messages", NewlineBatch{}, msgs("", "b"), []frame{{text, "\nb"}}},
		{"newline splits at limit", NewlineBatch{MaxFrameBytes: 3}, msgs("a", "b", "c"), []frame{{text, "a\nb"}, {text, "c"}}},
		{"newline oversize message alone", NewlineBatch{MaxFrameBytes: 3}, msgs("a", "long", "b"), []frame{{text, "a"}, {text, "long"}, {text, "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []frame
			buf, err := tt.codec.Encode(nil, tt.batch, func(typ websocket.MessageType, p []byte) error {
				got = append(got, frame{typ, string(p)})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("frames = %+v, want %+v", got, tt.want)
			}
			// The scratch buffer comes back for reuse.
			if _, err := tt.codec.Encode(buf, tt.batch, func(websocket.MessageType, []byte) error { return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCodecStopsOnWriteError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, c := range []Codec{MessagePerFrame{}, NewlineBatch{MaxFrameBytes: 1}} {
		calls := 0
		_, err := c.Encode(nil, [][]byte{[]byte("a"), []byte("b")}, func(websocket.MessageType, []byte) error {
			calls++
			return boom
		})
		if !errors.Is(err, boom) || calls != 1 {
			t.Fatalf("%T: err=%v calls=%d", c, err, calls)
		}
	}
}
