package stagechat

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// EmojiLookup maps a custom emoji shortcode (without colons) to its image
// URL path, reporting whether it exists.
type EmojiLookup func(name string) (url string, ok bool)

// Renderer turns chat Markdown into sanitised HTML.
type Renderer struct {
	chat   goldmark.Markdown
	page   goldmark.Markdown
	simple goldmark.Markdown
	policy *bluemonday.Policy
}

var linkify = extension.NewLinkify(extension.WithLinkifyAllowedProtocols([][]byte{[]byte("http:"), []byte("https:")}))

// NewRenderer builds a renderer; emoji may be nil.
func NewRenderer(emoji EmojiLookup) *Renderer {
	r := &Renderer{policy: chatPolicy()}
	// Chat: raw HTML is not passed through (it is escaped by goldmark and
	// then stripped by the policy), custom emoji become <img class="emoji">.
	r.chat = goldmark.New(goldmark.WithExtensions(linkify, &emojiExt{lookup: emoji}))
	// Admin-authored page content: Owncast renders GFM with raw HTML.
	r.page = goldmark.New(goldmark.WithRendererOptions(html.WithUnsafe()), goldmark.WithExtensions(extension.GFM, linkify))
	r.simple = goldmark.New(goldmark.WithRendererOptions(html.WithUnsafe()), goldmark.WithExtensions(linkify))
	return r
}

// Chat renders a chat body: Markdown, custom emoji, then the sanitiser.
func (r *Renderer) Chat(raw string) string {
	var buf bytes.Buffer
	if err := r.chat.Convert([]byte(strings.TrimSpace(raw)), &buf); err != nil {
		return r.policy.Sanitize(raw)
	}
	return strings.TrimSpace(r.policy.Sanitize(buf.String()))
}

// Page renders admin-authored page content (GFM, raw HTML allowed).
func (r *Renderer) Page(raw string) string {
	var buf bytes.Buffer
	if err := r.page.Convert([]byte(strings.TrimSpace(raw)), &buf); err != nil {
		return ""
	}
	return strings.TrimSpace(buf.String())
}

// Simple renders short admin-authored text (offline message).
func (r *Renderer) Simple(raw string) string {
	var buf bytes.Buffer
	if err := r.simple.Convert([]byte(strings.TrimSpace(raw)), &buf); err != nil {
		return ""
	}
	return strings.TrimSpace(buf.String())
}

var (
	emojiSrc   = regexp.MustCompile(`^/img/emoji/[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)?\.(png|gif|jpg|jpeg|webp|svg)$`)
	emojiClass = regexp.MustCompile(`^emoji$`)
	nonEmpty   = regexp.MustCompile(`^[^<>"']+$`)
)

// chatPolicy allows what Owncast's chat allows: links (no referrer, new tab
// for absolute links), paragraphs, line breaks, emphasis, code and emoji
// images whose src is a plain path under /img/emoji/ (no traversal, no
// encoded dots) with the single class "emoji".
func chatPolicy() *bluemonday.Policy {
	p := bluemonday.StrictPolicy()
	p.AllowStandardURLs()
	p.RequireParseableURLs(true)
	p.AllowAttrs("href").OnElements("a")
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowElements("br", "p", "strong", "em", "code", "pre", "del")
	p.AllowAttrs("src").Matching(emojiSrc).OnElements("img")
	p.AllowAttrs("alt", "title").Matching(nonEmpty).OnElements("img")
	p.AllowAttrs("class").Matching(emojiClass).OnElements("img")
	return p
}

// emojiExt is a goldmark extension turning :name: into an emoji image when
// name is a known custom emoji.
type emojiExt struct{ lookup EmojiLookup }

func (e *emojiExt) Extend(m goldmark.Markdown) {
	if e.lookup == nil {
		return
	}
	m.Parser().AddOptions(parser.WithInlineParsers(util.Prioritized(&emojiParser{lookup: e.lookup}, 999)))
	m.Renderer().AddOptions(renderer.WithNodeRenderers(util.Prioritized(&emojiRenderer{}, 999)))
}

var kindEmoji = ast.NewNodeKind("HearthEmoji")

type emojiNode struct {
	ast.BaseInline
	name, url string
}

// Kind implements ast.Node.
func (n *emojiNode) Kind() ast.NodeKind { return kindEmoji }

// Dump implements ast.Node.
func (n *emojiNode) Dump(source []byte, level int) { ast.DumpHelper(n, source, level, nil, nil) }

type emojiParser struct{ lookup EmojiLookup }

func (p *emojiParser) Trigger() []byte { return []byte{':'} }

func (p *emojiParser) Parse(_ ast.Node, block text.Reader, _ parser.Context) ast.Node {
	line, _ := block.PeekLine()
	if len(line) < 3 || line[0] != ':' {
		return nil
	}
	end := bytes.IndexByte(line[1:], ':')
	if end <= 0 || end > 64 {
		return nil
	}
	name := string(line[1 : 1+end])
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return nil
		}
	}
	url, ok := p.lookup(name)
	if !ok {
		return nil
	}
	block.Advance(end + 2)
	return &emojiNode{name: name, url: url}
}

type emojiRenderer struct{}

func (r *emojiRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(kindEmoji, func(w util.BufWriter, _ []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		e := n.(*emojiNode)
		_, _ = w.WriteString(`<img src="`)
		_, _ = w.Write(util.EscapeHTML([]byte(e.url)))
		_, _ = w.WriteString(`" class="emoji" alt=":`)
		_, _ = w.WriteString(e.name)
		_, _ = w.WriteString(`:" title=":`)
		_, _ = w.WriteString(e.name)
		_, _ = w.WriteString(`:">`)
		return ast.WalkSkipChildren, nil
	})
}

// MarkdownText escapes s for a Markdown notice that quotes it (a chat
// user's name in "X has been removed from chat."): every ASCII punctuation
// character gets a backslash, so a name shows as the text it is and cannot
// make a link, an image or emphasis in everyone's chat.
func MarkdownText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
