package rtmp

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestAMF0RoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   []any
	}{
		{"connect", []any{"connect", 1.0, Object{"app": "live", "tcUrl": "rtmp://h/live", "fpad": false, "audioCodecs": 3575.0}}},
		{"null and undefined", []any{"createStream", 2.0, nil, Undefined{}}},
		{"nested", []any{Object{"a": Object{"b": []any{1.0, "x", true}}}}},
		{"empty string and object", []any{"", Object{}}},
		{"numbers", []any{0.0, -1.5, math.MaxFloat64}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := AppendAMF0(nil, tc.in...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeAMF0(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.in) {
				t.Fatalf("got %#v, want %#v", got, tc.in)
			}
		})
	}
}

func TestAMF0DecodeForms(t *testing.T) {
	t.Parallel()
	ecma := []byte{amfECMAArray, 0, 0, 0, 1, 0, 5, 'w', 'i', 'd', 't', 'h', amfNumber, 0x40, 0x94, 0, 0, 0, 0, 0, 0, 0, 0, amfObjectEnd}
	long := []byte{amfLongString, 0, 0, 0, 2, 'h', 'i'}
	date := []byte{amfDate, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0}
	typed := []byte{amfTypedObject, 0, 1, 'T', 0, 1, 'k', amfBoolean, 1, 0, 0, amfObjectEnd}
	cases := []struct {
		name string
		in   []byte
		want any
	}{
		{"ecma array (onMetaData)", ecma, Object{"width": 1280.0}},
		{"long string", long, "hi"},
		{"date", date, 1.0},
		{"typed object", typed, Object{"k": true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeAMF0(tc.in)
			if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
				t.Fatalf("got %#v %v, want %#v", got, err, tc.want)
			}
		})
	}
}

func TestAMF0Errors(t *testing.T) {
	t.Parallel()
	deep := []byte{}
	for i := 0; i < 40; i++ {
		deep = append(deep, amfStrictArray, 0, 0, 0, 1)
	}
	deep = append(deep, amfNull)
	cases := []struct {
		name string
		in   []byte
	}{
		{"truncated number", []byte{amfNumber, 1, 2}},
		{"truncated string", []byte{amfString, 0, 10, 'a'}},
		{"huge long string", []byte{amfLongString, 0xff, 0xff, 0xff, 0xff, 'a'}},
		{"huge strict array", []byte{amfStrictArray, 0xff, 0xff, 0xff, 0xff}},
		{"unterminated object", []byte{amfObject, 0, 1, 'a', amfNull}},
		{"bad end marker", []byte{amfObject, 0, 0, amfNull}},
		{"AMF3 switch", []byte{amfSwitchAMF3, 1}},
		{"reference", []byte{amfReference, 0, 1}},
		{"unknown marker", []byte{0x42}},
		{"too deep", deep},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := DecodeAMF0(tc.in); !errors.Is(err, ErrAMF) {
				t.Fatalf("got %v, want ErrAMF", err)
			}
		})
	}
}

func FuzzAMF0(f *testing.F) {
	seed, _ := AppendAMF0(nil, "connect", 1.0, Object{"app": "live", "list": []any{1.0, nil}}, Undefined{})
	f.Add(seed)
	f.Add([]byte{amfECMAArray, 0, 0, 0, 1, 0, 1, 'a', amfBoolean, 1, 0, 0, amfObjectEnd})
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, err := DecodeAMF0(b)
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same values.
		enc, err := AppendAMF0(nil, vals...)
		if err != nil {
			return // e.g. an empty property name cannot be re-encoded
		}
		again, err := DecodeAMF0(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if len(again) != len(vals) {
			t.Fatalf("round trip changed %d values to %d", len(vals), len(again))
		}
	})
}
