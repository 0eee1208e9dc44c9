package together

import (
	"context"
	"testing"
)

// FuzzGatewayFrame feeds arbitrary client frames to the gateway's decoder
// (and the voice-signal decoder behind it): every frame gets a decision,
// and a frame it accepts obeys the op's rules.
func FuzzGatewayFrame(f *testing.F) {
	for _, s := range []string{`{"op":"HEARTBEAT"}`, `{"op":"PRESENCE_UPDATE","d":{"status":"dnd","custom_status":"x"}}`,
		`{"op":"PRESENCE_UPDATE","d":{"status":"invisible"}}`, `{"op":"TYPING_START","d":{"channel_id":"c"}}`,
		`{"op":"TYPING_START","d":5}`, `{"op":"VOICE_SIGNAL","d":{"type":"offer","sdp":"v=0","to_user_id":"u"}}`,
		`{"op":"IDENTIFY","d":{"token":"x"}}`, `{"op":"HEARTBEAT"}{"op":"HEARTBEAT"}`, `[`, "\xff", `null`, `{"op":null,"d":[]}`} {
		f.Add([]byte(s))
	}
	s := &Surface{}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, ok := parseFrame(data)
		if !ok {
			return
		}
		switch fr.Op {
		case "HEARTBEAT", "TYPING_START":
		case "PRESENCE_UPDATE":
			p := fr.Presence
			switch p.Status {
			case "online", "away", "dnd", "offline":
			default:
				t.Fatalf("%q: status %q accepted", data, p.Status)
			}
			for _, v := range []*string{p.CustomStatus, p.Activity} {
				if v != nil && len([]rune(*v)) > 128 {
					t.Fatalf("%q: over-long field accepted", data)
				}
			}
		case "VOICE_SIGNAL":
			s.relaySignal(context.Background(), nil, fr.D) // no voice service: decodes and drops
		default:
			t.Fatalf("%q: op %q accepted", data, fr.Op)
		}
	})
}
