// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { renderChatHtml, renderHighlight, renderMarkdown, sanitizeHtml } from "./markdown";

describe("renderMarkdown", () => {
  const cases: [string, string, string][] = [
    ["plain", "hello", "<p>hello</p>"],
    ["bold", "**bold**", "<p><strong>bold</strong></p>"],
    ["italic star", "an *it* word", "<p>an <em>it</em> word</p>"],
    ["italic underscore", "_it_", "<p><em>it</em></p>"],
    ["snake_case is not italic", "snake_case_name", "<p>snake_case_name</p>"],
    ["strike", "~~gone~~", "<p><del>gone</del></p>"],
    ["inline code keeps its stars", "`**x** <b>`", "<p><code>**x** &lt;b&gt;</code></p>"],
    ["fence", "```js\nlet a = 1 < 2;\n**no**\n```", "<pre><code>let a = 1 &lt; 2;\n**no**</code></pre>"],
    ["quote", "> one\n> two\nafter", "<blockquote>one<br>two</blockquote><p>after</p>"],
    ["bullets", "- a\n- **b**", "<ul><li>a</li><li><strong>b</strong></li></ul>"],
    ["numbers", "1. a\n2. b", "<ol><li>a</li><li>b</li></ol>"],
    ["line breaks", "a\nb\n\nc", "<p>a<br>b</p><p>c</p>"],
    [
      "link takes no closing bracket",
      "[link](https://example.com)",
      '<p><a href="https://example.com" target="_blank" rel="nofollow noreferrer noopener external">link</a></p>',
    ],
    [
      "bare link",
      "see https://example.com/a?b=1&c=2.",
      '<p>see <a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="nofollow noreferrer noopener external">https://example.com/a?b=1&amp;c=2</a>.</p>',
    ],
    ["mention", "hi @alice", '<p>hi <span class="at">@alice</span></p>'],
    ["html is text", "<b>x</b> & <img src=x onerror=alert(1)>", "<p>&lt;b&gt;x&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;</p>"],
    ["javascript link is text", "[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"],
    ["data link is text", "[x](data:text/html,<script>alert(1)</script>)", "<p>[x](data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;)</p>"],
    [
      "quote in link url stays inside the attribute",
      '[x](https://a.example/"onmouseover="alert(1))',
      '<p><a href="https://a.example/&quot;onmouseover=&quot;alert(1)" target="_blank" rel="nofollow noreferrer noopener external">x</a></p>',
    ],
  ];
  for (const [name, src, want] of cases) {
    it(name, () => expect(renderMarkdown(src)).toBe(want));
  }
});

// Known mutation-XSS and namespace-confusion payloads. Whatever the
// sanitiser returns is parsed again (as the page does when it is inserted);
// the result must hold no script, no event handler and no dangerous URL.
const payloads = [
  '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
  "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
  '<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;/mglyph&gt;&lt;img&Tab;src=1&Tab;onerror=alert(1)&gt;">',
  '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
  '<title><p title="</title><img src=x onerror=alert(1)>"></title>',
  '<textarea><p title="</textarea><img src=x onerror=alert(1)>"></textarea>',
  '<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>',
  '<svg><style><img src=x onerror=alert(1)></style></svg>',
  '<a href="javascript:alert(1)">x</a>',
  '<a href="  JaVaScRiPt:alert(1)">x</a>',
  '<a href="java&#x09;script:alert(1)">x</a>',
  '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
  '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
  '<iframe src="javascript:alert(1)"></iframe>',
  "<script>alert(1)</script>",
  '<div onclick="alert(1)">x</div>',
  '<a href="vbscript:msgbox(1)">x</a>',
  '<img src=x onerror=alert(1)//',
  '<template><img src=x onerror=alert(1)></template>',
];

function dangerous(html: string): string[] {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  const found: string[] = [];
  for (const el of Array.from(doc.body.querySelectorAll("*"))) {
    const tag = el.tagName.toLowerCase();
    if (["script", "style", "svg", "math", "iframe", "template", "noscript", "title", "textarea", "form", "object", "embed"].includes(tag)) found.push(tag);
    for (const a of Array.from(el.attributes)) {
      if (a.name.startsWith("on")) found.push(`${tag}[${a.name}]`);
      if ((a.name === "href" || a.name === "src") && !/^(https?:\/\/|\/[^/]|data:image\/(png|gif|jpeg|webp);base64,)/i.test(a.value.trim())) {
        found.push(`${tag}[${a.name}=${a.value}]`);
      }
    }
  }
  return found;
}

describe("sanitizeHtml", () => {
  for (const p of payloads) {
    it(`neutralises ${p}`, () => {
      const once = sanitizeHtml(p);
      expect(dangerous(once)).toEqual([]);
      // Sanitising is stable: a second pass changes nothing, so a re-parse
      // cannot mutate the markup into something new.
      expect(sanitizeHtml(once)).toBe(once);
      expect(dangerous(renderChatHtml(p))).toEqual([]);
      // Typed as a message, the payload is text.
      expect(dangerous(renderMarkdown(p))).toEqual([]);
    });
  }

  it("keeps the formatting stage chat uses", () => {
    const html = '<p><strong>hi</strong> <img class="emoji" src="/img/emoji/a.png" alt=":a:"> <a href="https://x.example">x</a></p>';
    expect(renderChatHtml(html)).toBe(
      '<p><strong>hi</strong> <img class="emoji" src="/img/emoji/a.png" alt=":a:"> <a href="https://x.example" target="_blank" rel="nofollow noreferrer noopener external">x</a></p>',
    );
  });

  it("allows https frames only when asked, sandboxed", () => {
    expect(sanitizeHtml('<iframe src="https://w.example/"></iframe>')).toBe("");
    const f = sanitizeHtml('<iframe src="https://w.example/"></iframe>', { frames: true });
    expect(f).toContain('src="https://w.example/"');
    expect(f).toContain("sandbox=");
  });
});

describe("renderHighlight", () => {
  const cases: [string, string, string][] = [
    ["formatted, the match marked", "Hello **<mark>bob</mark>**", "<p>Hello <strong><mark>bob</mark></strong></p>"],
    ["escaped body: html stays text", "&lt;b&gt;<mark>hi</mark>&lt;/b&gt;", "<p>&lt;b&gt;<mark>hi</mark>&lt;/b&gt;</p>"],
    ["a match across formatting", "<mark>**a** b</mark> c", "<p><strong><mark>a</mark></strong><mark> b</mark> c</p>"],
    ["a match inside a link's address is not in the href", "[x](https://example.com/<mark>bob</mark>)", '<p><a href="https://example.com/bob" target="_blank" rel="nofollow noreferrer noopener external">x</a></p>'],
    ["no highlight: plain Markdown", "`**x**`", "<p><code>**x**</code></p>"],
    ["typed private-use characters are dropped", "a\uE000b\uE001c", "<p>abc</p>"],
  ];
  for (const [name, src, want] of cases) {
    it(name, () => expect(renderHighlight(src)).toBe(want));
  }
  it("markup in a match is text", () => {
    const html = renderHighlight("<mark>&lt;img src=x onerror=alert(1)&gt;</mark>");
    expect(html).toBe("<p><mark>&lt;img src=x onerror=alert(1)&gt;</mark></p>");
  });
});
