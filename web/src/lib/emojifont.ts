// Reaction emoji (and emoji in messages) must not vanish on a machine without
// an emoji font, as a bare Linux desktop or headless browser has none: ship
// Twemoji as a COLR web font (twemoji-colr-font, OFL-1.1; glyphs CC-BY 4.0)
// and put it in the page's font stack for the emoji code points only. The
// unicode-range keeps plain text, digits and the arrows the UI uses as text in
// the system fonts, and the browser downloads the font only when a page shows
// an emoji.
import woff2 from "twemoji-colr-font/twemoji.woff2?url";

export const emojiFamily = "Hearth Emoji";

// Emoji code points: ©®, ‼⁉, ™ℹ, the symbol and dingbat blocks, the
// pictographic planes, variation selector 16, ZWJ, keycap, and tag letters
// (subdivision flags).
export const emojiRange =
  "U+A9, U+AE, U+203C, U+2049, U+2122, U+2139, U+2600-27BF, U+2B05-2B55, U+1F000-1FAFF, U+FE0F, U+200D, U+20E3, U+E0020-E007F";

export function installEmojiFont(doc: Document = document): FontFace | undefined {
  if (typeof FontFace === "undefined" || !doc.fonts) return undefined;
  const face = new FontFace(emojiFamily, `url(${woff2}) format("woff2")`, { unicodeRange: emojiRange, display: "swap" });
  doc.fonts.add(face);
  return face;
}
