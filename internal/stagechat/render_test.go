package stagechat

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
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

// FuzzRenderChat parses the HTML the renderer produced and checks every
// element and attribute against what the chat policy allows. Text that merely
// reads like markup ("onerror=", "javascript:") is fine as text; only an
// element, attribute or URL that a browser would act on is a failure.
func FuzzRenderChat(f *testing.F) {
	r := NewRenderer(func(name string) (string, bool) { return "/img/emoji/" + name + ".png", len(name) < 10 })
	for _, s := range []string{"hi", "<script>x</script>", ":a:", "[a](javascript:x)", "<img src=x onerror=y>",
		"onerror=", "javascript:alert(1)", "[x](JaVaScRiPt:alert(1))", "<a href=\"javascript:x\">y</a>",
		"https://example.org/?a=<b>", "**b** _i_ `c` ~~d~~", "<svg onload=alert(1)>", ":a: :b:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := r.Chat(in)
		if err := checkChatHTML(out); err != nil {
			t.Fatalf("Chat(%q) = %q: %v", in, out, err)
		}
	})
}

// chatAllowed lists the elements the chat policy lets through and, for
// each, the attributes it may carry.
var chatAllowed = map[atom.Atom]map[string]bool{
	atom.P: {}, atom.Br: {}, atom.Strong: {}, atom.Em: {}, atom.Code: {}, atom.Pre: {}, atom.Del: {},
	atom.A:   {"href": true, "rel": true, "target": true},
	atom.Img: {"src": true, "alt": true, "title": true, "class": true},
}

// checkChatHTML parses out as a body fragment and reports the first element,
// attribute or URL outside the chat policy.
func checkChatHTML(out string) error {
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(out), body)
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	var walk func(n *html.Node) error
	walk = func(n *html.Node) error {
		switch n.Type {
		case html.ElementNode:
			attrs, ok := chatAllowed[n.DataAtom]
			if !ok {
				return fmt.Errorf("element <%s> is not allowed", n.Data)
			}
			for _, a := range n.Attr {
				key := strings.ToLower(a.Key)
				if strings.HasPrefix(key, "on") || !attrs[key] || a.Namespace != "" {
					return fmt.Errorf("attribute %q on <%s> is not allowed", a.Key, n.Data)
				}
				if key == "href" || key == "src" {
					if err := checkChatURL(n.DataAtom, a.Val); err != nil {
						return err
					}
				}
				if key == "class" && a.Val != "emoji" {
					return fmt.Errorf("class %q is not allowed", a.Val)
				}
			}
		case html.TextNode, html.CommentNode:
		default:
			return fmt.Errorf("node type %d is not allowed", n.Type)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range nodes {
		if err := walk(n); err != nil {
			return err
		}
	}
	return nil
}

// checkChatURL accepts http(s) and mailto links and relative links (as
// bluemonday's standard URLs do), and emoji images only as plain paths under
// /img/emoji/.
func checkChatURL(el atom.Atom, raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("unparseable URL %q", raw)
	}
	if el == atom.Img {
		if !emojiSrc.MatchString(raw) {
			return fmt.Errorf("image source %q is outside /img/emoji/", raw)
		}
		return nil
	}
	switch strings.ToLower(u.Scheme) {
	case "", "http", "https", "mailto":
		return nil
	}
	return fmt.Errorf("link scheme %q is not allowed", u.Scheme)
}

// TestCheckChatHTML shows the fuzz oracle tells markup from text: it refuses
// what a browser would act on and accepts the same words as text.
func TestCheckChatHTML(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in string
		ok bool
	}{
		{"<p>onerror= javascript:alert(1)</p>", true},
		{`<p><a href="https://example.org" rel="nofollow" target="_blank">x</a></p>`, true},
		{`<img src="/img/emoji/a.png" class="emoji" alt=":a:">`, true},
		{`<img src=x onerror=alert(1)>`, false},
		{`<a href="javascript:alert(1)">x</a>`, false},
		{`<a href=" JavaScript:alert(1)">x</a>`, false},
		{`<script>alert(1)</script>`, false},
		{`<p onclick="x">y</p>`, false},
		{`<img src="/img/emoji/../x.png">`, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			if err := checkChatHTML(c.in); (err == nil) != c.ok {
				t.Fatalf("checkChatHTML(%q) = %v, want ok=%v", c.in, err, c.ok)
			}
		})
	}
}

// TestMarkdownText: a quoted name renders as exactly its text, whatever
// Markdown or HTML it spells.
func TestMarkdownText(t *testing.T) {
	t.Parallel()
	r := NewRenderer(func(string) (string, bool) { return "/img/emoji/x.png", true })
	for name, want := range map[string]string{
		"Bob_Smith":                    "Bob_Smith",
		"[prize](https://phish.io)*x*": "[prize](https://phish.io)*x*",
		"![i](https://a.io/i.png)":     "![i](https://a.io/i.png)",
		"https://phish.io :smile: # h": "https://phish.io :smile: # h",
		"`code` ~~s~~ \\*":             "`code` ~~s~~ \\*",
	} {
		got := r.Chat("**" + MarkdownText(name) + "** left")
		if got != "<p><strong>"+html.EscapeString(want)+"</strong> left</p>" {
			t.Errorf("%q rendered %q", name, got)
		}
	}
}
