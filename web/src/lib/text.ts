// Message text helpers: mentions and search highlights rendered as parts,
// never as HTML, so nothing a user typed can become markup.

export interface Part {
  text: string;
  kind: "text" | "mention" | "mark" | "link";
}

const token = /(@[A-Za-z0-9_]{2,32}|@everyone|https?:\/\/[^\s<>"']+)/g;

export function messageParts(content: string): Part[] {
  const out: Part[] = [];
  let last = 0;
  for (const m of content.matchAll(token)) {
    const i = m.index ?? 0;
    if (i > last) out.push({ text: content.slice(last, i), kind: "text" });
    out.push({ text: m[0], kind: m[0].startsWith("@") ? "mention" : "link" });
    last = i + m[0].length;
  }
  if (last < content.length) out.push({ text: content.slice(last), kind: "text" });
  return out;
}

/** highlightParts reads a ts_headline-style string with <mark>…</mark>. */
export function highlightParts(h: string): Part[] {
  const out: Part[] = [];
  let marked = false;
  for (const piece of h.split(/(<\/?mark>)/i)) {
    if (/^<mark>$/i.test(piece)) marked = true;
    else if (/^<\/mark>$/i.test(piece)) marked = false;
    else if (piece) out.push({ text: piece, kind: marked ? "mark" : "text" });
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
