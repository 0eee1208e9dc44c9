package messages

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFoldAndHighlight(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body, query, want string
	}{
		{"Crème Brûlée", "creme", "<mark>Crème</mark> Brûlée"},
		{"<script>café</script>", "CAFE", "&lt;script&gt;<mark>café</mark>&lt;/script&gt;"},
		{"naïve naive NAÏVE", "naive", "<mark>naïve</mark> <mark>naive</mark> <mark>NAÏVE</mark>"},
		{"no match here", "zzz", "no match here"},
		{"Ærøskøbing", "ærøskøbing", "<mark>Ærøskøbing</mark>"},
	}
	for _, c := range cases {
		if got := Highlight(c.body, Terms(c.query, 16)); got != c.want {
			t.Errorf("Highlight(%q, %q) = %q, want %q", c.body, c.query, got, c.want)
		}
	}
	if got := Terms("a, a! B-c", 16); strings.Join(got, "|") != "a|b|c" {
		t.Errorf("Terms: %v", got)
	}
}

// FuzzHighlight: any body and query give valid UTF-8 with no markup but
// the <mark> tags we add.
func FuzzHighlight(f *testing.F) {
	for _, s := range []string{"Crème brûlée", "<b>x</b>", "\xff\xfe", "a&b", ""} {
		f.Add(s, "creme b")
	}
	f.Fuzz(func(t *testing.T, body, query string) {
		out := Highlight(body, Terms(query, 16))
		stripped := strings.NewReplacer("<mark>", "", "</mark>", "").Replace(out)
		if strings.ContainsAny(stripped, "<>") {
			t.Fatalf("unescaped markup in %q", out)
		}
		if utf8.ValidString(body) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of valid input: %q", out)
		}
	})
}
