// One renderer for every message the app shows: community and DM messages
// (Markdown typed by people) and stage chat (HTML the Owncast surface has
// already rendered from Markdown). Both end in sanitizeHtml, which is
// DOMPurify with an allow-list: no hand-written HTML parser, because a
// parse/serialise/re-parse round trip is where mutation XSS lives.
//
// The Markdown subset is the one Together's client renders: **bold**,
// *italic* / _italic_, ~~strike~~, `code`, ``` fences, > quotes, - and 1.
// lists, [links](https://…), bare links and @mentions. Raw HTML in a
// message is text, never markup: the source is escaped before any rule runs.

import DOMPurify from "dompurify";
import { highlightParts, trimURL } from "./text";

const tags = [
  "p", "br", "strong", "b", "em", "i", "u", "del", "s", "code", "pre", "blockquote",
  "ul", "ol", "li", "span", "h1", "h2", "h3", "h4", "hr", "a", "img", "mark",
];
const attrs = ["href", "title", "src", "alt", "class", "width", "height"];
const frameAttrs = ["allow", "allowfullscreen"];

// Links and images: http(s) only; images may also be small inline rasters
// (Owncast's custom emoji). Everything else (javascript:, data:text/html,
// vbscript:, relative tricks) loses the attribute.
const safeHref = /^https?:\/\//i;
const safeSrc = /^(https?:\/\/|\/|data:image\/(png|gif|jpeg|webp);base64,)/i;

let hooked = false;
function hook(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    const el = node as Element;
    if (el.tagName === "A") {
      const href = el.getAttribute("href") ?? "";
      if (!safeHref.test(href.trim())) el.removeAttribute("href");
      el.setAttribute("target", "_blank");
      el.setAttribute("rel", "nofollow noreferrer noopener external");
    }
    if (el.tagName === "IMG") {
      const src = el.getAttribute("src") ?? "";
      if (!safeSrc.test(src.trim()) || src.trim().startsWith("//")) el.removeAttribute("src");
    }
    if (el.tagName === "IFRAME") {
      const src = el.getAttribute("src") ?? "";
      if (!/^https:\/\//i.test(src.trim())) el.removeAttribute("src");
      el.setAttribute("sandbox", "allow-scripts allow-popups allow-forms allow-same-origin");
    }
  });
}

/**
 * sanitizeHtml makes HTML safe to insert: DOMPurify with an allow-list of
 * text formatting, links and images. Frames are allowed only where the
 * instance admin wrote the HTML (Owncast's html external actions): https
 * only, sandboxed.
 */
export function sanitizeHtml(html: string, opts: { frames?: boolean } = {}): string {
  hook();
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS: opts.frames ? [...tags, "iframe"] : tags,
    ALLOWED_ATTR: opts.frames ? [...attrs, ...frameAttrs] : attrs,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ADD_ATTR: ["target"],
  });
}

function escapeHTML(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** inline renders one line of escaped-on-the-way Markdown. */
function inline(src: string): string {
  // Code spans and links become placeholders first so no later rule reaches
  // into them.
  const held: string[] = [];
  const hold = (html: string) => `\u0000${held.push(html) - 1}\u0000`;
  let s = src.replace(/\u0000/g, "");
  s = s.replace(/`([^`\n]+)`/g, (_, code: string) => hold(`<code>${escapeHTML(code)}</code>`));
  s = s.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s()]+(?:\([^\s()]*\))?[^\s()]*)\)/g, (_, text: string, url: string) =>
    hold(`<a href="${escapeHTML(url)}">${inlineText(text)}</a>`),
  );
  s = s.replace(/https?:\/\/[^\s<>"'\u0000]+/g, (m: string) => {
    const url = trimURL(m);
    return hold(`<a href="${escapeHTML(url)}">${escapeHTML(url)}</a>`) + m.slice(url.length);
  });
  s = inlineText(s);
  return s.replace(/\u0000(\d+)\u0000/g, (_, i: string) => held[Number(i)] ?? "");
}

/** inlineText: escape, then emphasis, strike and mentions. */
function inlineText(src: string): string {
  let s = escapeHTML(src);
  s = s.replace(/\*\*(?=\S)([^*\n]*?\S)\*\*/g, "<strong>$1</strong>");
  s = s.replace(/__(?=\S)([^_\n]*?\S)__/g, "<u>$1</u>");
  s = s.replace(/~~(?=\S)([^~\n]*?\S)~~/g, "<del>$1</del>");
  s = s.replace(/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?!\w)/g, "$1<em>$2</em>");
  s = s.replace(/(^|[^\w_])_(?=\S)([^_\n]*?\S)_(?!\w)/g, "$1<em>$2</em>");
  s = s.replace(/(^|[^\w@])(@everyone|@[A-Za-z0-9_]{2,32})/g, '$1<span class="at">$2</span>');
  return s;
}

/**
 * renderMarkdown turns a message's text into safe HTML. Blocks: ``` fences
 * (the language word after the fence is dropped), > quotes, - / * / 1.
 * lists; other lines are paragraphs with their line breaks kept.
 */
export function renderMarkdown(src: string): string {
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  const out: string[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) out.push(`<p>${para.map(inline).join("<br>")}</p>`);
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      flush();
      const code: string[] = [];
      let j = i + 1;
      while (j < lines.length && !/^\s*```\s*$/.test(lines[j])) code.push(lines[j++]);
      // An unclosed fence runs to the end of the message, as in Together's client.
      out.push(`<pre><code>${escapeHTML(code.join("\n"))}</code></pre>`);
      i = j;
      continue;
    }
    if (/^>\s?/.test(line)) {
      flush();
      const quote: string[] = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) quote.push(lines[i++].replace(/^>\s?/, ""));
      i--;
      out.push(`<blockquote>${quote.map(inline).join("<br>")}</blockquote>`);
      continue;
    }
    const bullet = /^\s*[-*+]\s+(.*)$/;
    const numbered = /^\s*\d{1,9}[.)]\s+(.*)$/;
    if (bullet.test(line) || numbered.test(line)) {
      flush();
      const re = bullet.test(line) ? bullet : numbered;
      const items: string[] = [];
      while (i < lines.length && re.test(lines[i])) items.push(inline(re.exec(lines[i++])![1]));
      i--;
      const tag = re === bullet ? "ul" : "ol";
      out.push(`<${tag}>${items.map((it) => `<li>${it}</li>`).join("")}</${tag}>`);
      continue;
    }
    if (line.trim() === "") {
      flush();
      continue;
    }
    para.push(line);
  }
  flush();
  return sanitizeHtml(out.join(""));
}

/**
 * renderChatHtml is the stage chat's path through the same renderer: the
 * Owncast surface sends bodies already rendered from Markdown, so they are
 * only sanitised, with the same allow-list as community messages.
 */
export function renderChatHtml(html: string): string {
  return sanitizeHtml(html);
}

// Private-use characters that carry a search match's bounds through the
// Markdown renderer as text; typed ones are dropped first.
const OPEN = "\uE000";
const CLOSE = "\uE001";
const marks = /[\uE000\uE001]/g;

/**
 * renderHighlight renders a search result as its message is rendered in
 * the channel (renderMarkdown, so the same sanitising), with the server's
 * matches (the highlight: the body HTML-escaped, <mark> around matches)
 * kept as <mark>. The matches ride through the renderer as private-use
 * characters and become <mark> elements made by DOM calls on the
 * sanitised tree (never by pasting strings into HTML); in an attribute (a
 * link's address) they are only removed.
 */
export function renderHighlight(highlight: string): string {
  const src = highlightParts(highlight)
    .map((p) => (p.kind === "mark" ? OPEN + p.text.replace(marks, "") + CLOSE : p.text.replace(marks, "")))
    .join("");
  const tpl = document.createElement("template");
  tpl.innerHTML = renderMarkdown(src);
  const root = tpl.content;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.nodeType === Node.TEXT_NODE) texts.push(n as Text);
    else for (const a of [...(n as Element).attributes]) if (/[\uE000\uE001]/.test(a.value)) (n as Element).setAttribute(a.name, a.value.replace(marks, ""));
  }
  // A match may span elements (**a** b): each piece of text inside it is
  // marked on its own.
  let marked = false;
  for (const t of texts) {
    const text = t.data;
    if (!marked && !text.includes(OPEN) && !text.includes(CLOSE)) continue;
    const frag = document.createDocumentFragment();
    for (const piece of text.split(/([\uE000\uE001])/)) {
      if (piece === OPEN) marked = true;
      else if (piece === CLOSE) marked = false;
      else if (piece) {
        const node = document.createTextNode(piece);
        if (marked) {
          const m = document.createElement("mark");
          m.append(node);
          frag.append(m);
        } else frag.append(node);
      }
    }
    t.replaceWith(frag);
  }
  const box = document.createElement("div");
  box.append(root);
  return sanitizeHtml(box.innerHTML);
}
