// Owncast sends chat bodies and page text as HTML it has already sanitised.
// We sanitise again in the browser (an allow-list over an inert document)
// before inserting it, so a bad server or a bug cannot inject script; the
// CSP forbids inline script on top of that.

const allowed: Record<string, string[]> = {
  P: [], BR: [], STRONG: [], B: [], EM: [], I: [], U: [], DEL: [], S: [], CODE: [], PRE: [], BLOCKQUOTE: [],
  UL: [], OL: [], LI: [], SPAN: [], H1: [], H2: [], H3: [], H4: [], HR: [],
  A: ["href", "title"],
  IMG: ["src", "alt", "title", "class", "width", "height"],
};

function safeUrl(u: string, img: boolean): boolean {
  try {
    const url = new URL(u, location.href);
    if (url.protocol === "https:" || url.protocol === "http:") return true;
    return img && url.protocol === "data:" && /^data:image\/(png|gif|jpeg|webp);/i.test(u);
  } catch {
    return false;
  }
}

const dropped = new Set(["SCRIPT", "STYLE", "TEMPLATE", "NOSCRIPT", "TEXTAREA", "SELECT", "OBJECT", "EMBED", "SVG", "MATH", "TITLE", "HEAD"]);

// Frames are allowed only where the instance admin wrote the HTML (Owncast's
// html external actions, which often embed a widget): https only, sandboxed.
const frameAttrs = ["src", "title", "width", "height", "allow", "allowfullscreen"];

export function sanitizeHtml(html: string, opts: { frames?: boolean } = {}): string {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  const walk = (node: Element) => {
    for (const child of Array.from(node.children)) {
      const keep = opts.frames && child.tagName === "IFRAME" ? frameAttrs : allowed[child.tagName];
      if (dropped.has(child.tagName.toUpperCase())) {
        // Code and hidden content: drop it with its text.
        child.remove();
        continue;
      }
      if (!keep) {
        // Unknown element: keep its text, drop the element.
        child.replaceWith(doc.createTextNode(child.textContent ?? ""));
        continue;
      }
      for (const a of Array.from(child.attributes)) {
        const ok = keep.includes(a.name) && (a.name !== "href" && a.name !== "src" ? true : safeUrl(a.value, a.name === "src"));
        if (!ok) child.removeAttribute(a.name);
      }
      if (child.tagName === "IFRAME") {
        const src = child.getAttribute("src") ?? "";
        if (!/^https:\/\//i.test(src)) child.removeAttribute("src");
        child.setAttribute("sandbox", "allow-scripts allow-popups allow-forms allow-same-origin");
      }
      if (child.tagName === "A") {
        child.setAttribute("target", "_blank");
        child.setAttribute("rel", "nofollow noreferrer noopener external");
      }
      walk(child);
    }
  };
  walk(doc.body);
  return doc.body.innerHTML;
}
