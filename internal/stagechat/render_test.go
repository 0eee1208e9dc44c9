package stagechat

import (
	"strings"
	"testing"
)

func TestRenderChat(t *testing.T) {
	t.Parallel()
	r := NewRenderer(func(name string) (string, bool) {
		if name == "blob" {
			return "/img/emoji/blob.png", true
		}
		return "", false
	})
	cases := []struct {
		name, in, want string
		absent         []string
	}{
		{"plain", "hello 123", "<p>hello 123</p>", nil},
		{"emphasis", "**hi** *there*", "<p><strong>hi</strong> <em>there</em></p>", nil},
		{"emoji", "yay :blob:", `<p>yay <img src="/img/emoji/blob.png" class="emoji" alt=":blob:" title=":blob:"></p>`, nil},
		{"unknown emoji", ":nope:", "<p>:nope:</p>", nil},
		{"script", "<script>alert(1)</script>", "", []string{"<script", "alert(1)</script>"}},
		{"img onerror", `<img src=x onerror=alert(1)>`, "", []string{"onerror", "<img"}},
		{"javascript link", "[x](javascript:alert(1))", "", []string{"javascript:"}},
		{"traversal emoji", `<img src="/img/emoji/../../thumbnail.jpg" class="emoji">`, "", []string{"thumbnail", "<img"}},
		{"encoded traversal", `<img src="/img/emoji/%2E%2E/x.png" class="emoji">`, "", []string{"%2E", "<img"}},
		{"class hijack", `<img src="/img/emoji/a.png" class="emoji overlay">`, "", []string{"overlay"}},
		{"link", "see https://example.org", `<p>see <a href="https://example.org" rel="nofollow noreferrer noopener" target="_blank">https://example.org</a></p>`, nil},
		{"sql-ish", "' OR 1=1--;", "<p>&#39; OR 1=1--;</p>", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := r.Chat(c.in)
			if c.want != "" && got != c.want {
				t.Fatalf("Chat(%q) = %q, want %q", c.in, got, c.want)
			}
			for _, a := range c.absent {
				if strings.Contains(got, a) {
					t.Fatalf("Chat(%q) = %q, must not contain %q", c.in, got, a)
				}
			}
		})
	}
}

func FuzzRenderChat(f *testing.F) {
	r := NewRenderer(func(name string) (string, bool) { return "/img/emoji/" + name + ".png", len(name) < 10 })
	for _, s := range []string{"hi", "<script>x</script>", ":a:", "[a](javascript:x)", "<img src=x onerror=y>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := r.Chat(in)
		for _, bad := range []string{"<script", "onerror=", "javascript:"} {
			if strings.Contains(strings.ToLower(out), bad) {
				t.Fatalf("%q rendered to %q", in, out)
			}
		}
	})
}
