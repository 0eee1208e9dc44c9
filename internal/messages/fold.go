package messages

import (
	"html"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Fold lowercases s and removes diacritics ("Crème Brûlée" → "creme brulee"),
// the form both search indexes hold and queries are matched in.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return norm.NFC.String(b.String())
}

// Terms splits a search text into folded word tokens (letters and digits),
// dropping duplicates; at most max terms are kept.
func Terms(s string, max int) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(Fold(s), notWord) {
		if seen[w] || len(out) >= max {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

func notWord(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// Highlight HTML-escapes body and wraps every word whose folded form is one
// of terms in <mark>…</mark>.
func Highlight(body string, terms []string) string {
	want := make(map[string]bool, len(terms))
	for _, t := range terms {
		want[t] = true
	}
	var b strings.Builder
	rs := []rune(body)
	for i := 0; i < len(rs); {
		if notWord(rs[i]) {
			j := i
			for j < len(rs) && notWord(rs[j]) {
				j++
			}
			b.WriteString(html.EscapeString(string(rs[i:j])))
			i = j
			continue
		}
		j := i
		for j < len(rs) && !notWord(rs[j]) {
			j++
		}
		w := string(rs[i:j])
		if want[Fold(w)] {
			b.WriteString("<mark>")
			b.WriteString(html.EscapeString(w))
			b.WriteString("</mark>")
		} else {
			b.WriteString(html.EscapeString(w))
		}
		i = j
	}
	return b.String()
}
