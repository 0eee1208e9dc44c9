// Message text helpers: mentions and search highlights rendered as parts,
// never as HTML, so nothing a user typed can become markup.

export interface Part {
  text: string;
  kind: "text" | "mention" | "mark" | "link";
}

const token = /(@[A-Za-z0-9_]{2,32}|@everyone|https?:\/\/[^\s<>"']+)/g;

/**
 * trimURL drops what a URL pattern takes from the sentence around it:
 * trailing punctuation, and a closing bracket that has no opening one in the
 * URL, so "[link](https://example.com)" links https://example.com while
 * "https://en.wikipedia.org/wiki/Go_(game)" keeps its parenthesis.
 */
export function trimURL(url: string): string {
  for (;;) {
    const last = url.at(-1) ?? "";
    if (/[.,;:!?*_~]/.test(last)) {
      url = url.slice(0, -1);
      continue;
    }
    const pair: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
    const open = pair[last];
    if (open && url.split(last).length > url.split(open).length) {
      url = url.slice(0, -1);
      continue;
    }
    return url;
  }
}

export function messageParts(content: string): Part[] {
  const out: Part[] = [];
  let last = 0;
  for (const m of content.matchAll(token)) {
    const i = m.index ?? 0;
    const text = m[0].startsWith("@") ? m[0] : trimURL(m[0]);
    if (i > last) out.push({ text: content.slice(last, i), kind: "text" });
    out.push({ text, kind: m[0].startsWith("@") ? "mention" : "link" });
    last = i + text.length;
  }
  if (last < content.length) out.push({ text: content.slice(last), kind: "text" });
  return out;
}

const entities: Record<string, string> = { "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#34;": '"', "&#39;": "'" };

/** unescapeHTML undoes the server's HTML escaping of a search highlight. */
function unescapeHTML(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|#34|#39);/g, (e) => entities[e] ?? e);
}

/**
 * highlightParts reads the server's search highlight: the body HTML-escaped,
 * with <mark>…</mark> around matches. The parts are plain text (rendered as
 * text, never HTML), so the escaping is undone here, once.
 */
export function highlightParts(h: string): Part[] {
  const out: Part[] = [];
  let marked = false;
  for (const piece of h.split(/(<\/?mark>)/i)) {
    if (/^<mark>$/i.test(piece)) marked = true;
    else if (/^<\/mark>$/i.test(piece)) marked = false;
    else if (piece) out.push({ text: unescapeHTML(piece), kind: marked ? "mark" : "text" });
  }
  return out;
}

/** colorIndex maps a name to one of 8 hues (stable per name). */
export function colorIndex(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h % 8;
}

export function timeLabel(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const today = new Date();
  return d.toDateString() === today.toDateString()
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * roomTitle is what a watch room is called on screen: its title, or its
 * name, except that a quick room's generated name (a UUID) is nobody's idea
 * of a title, so it reads "Quick room".
 */
export function roomTitle(name: string, title?: string | null): string {
  if (title && title.trim()) return title.trim();
  return uuid.test(name) ? "Quick room" : name;
}

/**
 * counted writes a count with its noun in the right number: "1 member",
 * "0 members", "2 replies". plural defaults to the noun with an "s".
 */
export function counted(n: number, noun: string, plural = noun + "s"): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
