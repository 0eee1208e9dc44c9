package hls

import (
	"net/url"
	"strconv"
	"testing"
)

// FuzzBlockingRequest feeds arbitrary playlist query strings to the LL-HLS
// blocking-reload parser: it answers, never panics, and what it accepts is
// exactly what the query said.
func FuzzBlockingRequest(f *testing.F) {
	for _, s := range []string{"", "_HLS_msn=5", "_HLS_msn=5&_HLS_part=2", "_HLS_part=1", "_HLS_msn=-1", "_HLS_msn=+3",
		"_HLS_msn=99999999999999999999", "_HLS_msn=1&_HLS_msn=2", "_HLS_msn=%201", "_HLS_msn=1&_HLS_part=", "_HLS_skip=YES", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		msn, part, blocking, err := ParseBlockingRequest(q)
		if err != nil {
			return
		}
		if !blocking {
			if q.Has("_HLS_msn") || q.Has("_HLS_part") {
				t.Fatalf("%q: not blocking but names a blocking parameter", raw)
			}
			return
		}
		// Leading zeros are fine ("00" is segment 0); the value must still
		// be exactly the decimal the query carried.
		if n, err := strconv.Atoi(q.Get("_HLS_msn")); err != nil || msn != n || msn < 0 || part < -1 {
			t.Fatalf("%q: msn %d part %d", raw, msn, part)
		}
		if n, err := strconv.Atoi(q.Get("_HLS_part")); q.Has("_HLS_part") != (part >= 0) || (part >= 0 && (err != nil || n != part)) {
			t.Fatalf("%q: part %d", raw, part)
		}
	})
}

// FuzzPartName feeds arbitrary request names to the LL-HLS part-name parser
// (GET /hls/{n}/stream-<id>-<seq>.<i>.ts): a name it accepts names a
// non-negative segment and part of a hex id, and nothing else.
func FuzzPartName(f *testing.F) {
	for _, s := range []string{"stream-ab12-3.0.ts", "stream--1.0.ts", "stream-ab-1.2.3.ts", "stream-ab-+1.0.ts",
		"stream-../../x-1.0.ts", "stream-ab-99999999999999999999.0.ts", "stream-AB-1.0.ts", "x.ts", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		id, seq, idx, ok := parsePartName(name)
		if !ok {
			return
		}
		if id == "" || seq < 0 || idx < 0 {
			t.Fatalf("%q: id %q seq %d idx %d", name, id, seq, idx)
		}
		for _, c := range id {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				t.Fatalf("%q: id %q is not lower-case hex", name, id)
			}
		}
	})
}

func TestParseBlockingRequest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		q               string
		msn, part       int
		blocking, valid bool
	}{
		{"", 0, -1, false, true},
		{"_HLS_msn=7", 7, -1, true, true},
		{"_HLS_msn=7&_HLS_part=0", 7, 0, true, true},
		{"_HLS_part=1", 0, -1, false, false},
		{"_HLS_msn=-1", 0, -1, false, false},
		{"_HLS_msn=+1", 0, -1, false, false},
		{"_HLS_msn=1&_HLS_msn=2", 0, -1, false, false},
		{"_HLS_msn=1&_HLS_part=x", 0, -1, false, false},
		{"_HLS_msn=1000000000", 0, -1, false, false},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			t.Parallel()
			q, _ := url.ParseQuery(c.q)
			msn, part, blocking, err := ParseBlockingRequest(q)
			if (err == nil) != c.valid || (c.valid && (msn != c.msn || part != c.part || blocking != c.blocking)) {
				t.Fatalf("ParseBlockingRequest(%q) = %d %d %v %v", c.q, msn, part, blocking, err)
			}
		})
	}
}
