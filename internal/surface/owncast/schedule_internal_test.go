package owncast

import "testing"

// TestICSTextDropsControls: a calendar TEXT value escapes backslash,
// semicolon, comma and line breaks, and holds no other control character
// (RFC 5545 §3.3.11); they were passed through, so a schedule entry's
// title could make a calendar client refuse the whole feed.
func TestICSTextDropsControls(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"a;b,c\\d":                        `a\;b\,c\\d`,
		"one\r\ntwo\nthree\r":             `one\ntwo\nthree\n`,
		"bell\x07esc\x1b[31m\x7fdel\ttab": "bellesc[31mdel\ttab",
	} {
		if got := icsText(in); got != want {
			t.Errorf("icsText(%q) = %q, want %q", in, got, want)
		}
	}
}
