package stagechat

import (
	"strings"
	"unicode"

	"github.com/hearth-community/hearth/internal/fault"
)

// MaxFilteredWords caps the word filter's list.
const MaxFilteredWords = 1000

// SetFilteredWords sets the word filter's list: single words (letters and
// digits only, 1–50 characters), compared case-insensitively.
func (st *Settings) SetFilteredWords(words []string) error {
	if len(words) > MaxFilteredWords {
		return fault.Newf(fault.Invalid, "at most %d filtered words", MaxFilteredWords)
	}
	out := make([]string, 0, len(words))
	seen := map[string]bool{}
	for _, w := range words {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" || len([]rune(w)) > 50 || strings.IndexFunc(w, func(r rune) bool { return !wordRune(r) }) >= 0 {
			return fault.Newf(fault.Invalid, "filtered words must be single words of letters and digits: %q", w)
		}
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	st.FilteredWords = out
	return nil
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) }

// censorWords replaces each whole word of body found in words (lower
// case) by as many asterisks as it has characters. Words inside other
// words are left alone ("class" is not "ass").
func censorWords(body string, words []string) string {
	if len(words) == 0 {
		return body
	}
	set := make(map[string]bool, len(words))
	for _, w := range words {
		set[w] = true
	}
	var b strings.Builder
	rs := []rune(body)
	for i := 0; i < len(rs); {
		if !wordRune(rs[i]) {
			b.WriteRune(rs[i])
			i++
			continue
		}
		j := i
		for j < len(rs) && wordRune(rs[j]) {
			j++
		}
		tok := string(rs[i:j])
		if set[strings.ToLower(tok)] {
			b.WriteString(strings.Repeat("*", j-i))
		} else {
			b.WriteString(tok)
		}
		i = j
	}
	return b.String()
}
