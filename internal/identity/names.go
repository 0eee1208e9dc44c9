package identity

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/hearth-community/hearth/internal/fault"
)

// MaxDisplayNameLength bounds an account's display name, in characters.
// Surfaces with a shorter bound (Owncast chat: 30) pass their own to
// CleanName.
const MaxDisplayNameLength = 64

// CleanName is the one rule for a display name on every surface, as
// Owncast applies to chat names: markup is stripped (tags removed, entities
// decoded, repeated until nothing changes so that "&lt;b&gt;" cannot turn
// into a tag afterwards), angle brackets that survive are dropped, control
// and format characters (bidi overrides, zero-width) are removed, runs of
// white space become one space, the result is trimmed and cut to max
// characters. An empty result means the name had nothing showable: the
// caller refuses it or picks another, as its surface does.
func CleanName(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	// Bound the work before parsing: a name is short, its input need not be.
	if len(s) > 4*max+1024 {
		s = s[:4*max+1024]
	}
	// Removing a character can join the text around it into an entity
	// ("&", NUL, "#60;"), so the whole pass repeats until nothing changes:
	// a cleaned name cleans to itself.
	for range 8 {
		next := cleanOnce(s, max)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func cleanOnce(s string, max int) string {
	for range 4 {
		next := stripTags(s)
		if next == s {
			break
		}
		s = next
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == '<' || r == '>':
			continue
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError:
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if utf8.RuneCountInString(out) > max {
		out = strings.TrimSpace(string([]rune(out)[:max]))
	}
	return out
}

// stripTags keeps only the text of s (entities decoded), dropping every tag,
// comment and doctype, and the content of script and style elements.
func stripTags(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken:
			if n, _ := z.TagName(); string(n) == "script" || string(n) == "style" {
				skip++
			}
		case html.EndTagToken:
			if n, _ := z.TagName(); (string(n) == "script" || string(n) == "style") && skip > 0 {
				skip--
			}
		}
	}
}

// ValidHTTPURL reports whether raw is an absolute http or https URL with a
// host: the only kind of URL Hearth stores from a client (avatars, icons,
// links), so that no javascript:, data: or file: URL reaches a page.
func ValidHTTPURL(raw string) bool {
	if raw == "" || len(raw) > 2048 || strings.TrimSpace(raw) != raw {
		return false
	}
	for _, r := range raw {
		if r < 0x21 || r == 0x7f {
			return false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	return u.Scheme == "http" || u.Scheme == "https"
}

// CheckURL refuses a stored URL field that is set and not http(s); an empty
// value (clearing the field) is accepted.
func CheckURL(field, raw string) error {
	if raw == "" || ValidHTTPURL(raw) {
		return nil
	}
	return fault.New(fault.Invalid, field+" must be an http(s) URL")
}
