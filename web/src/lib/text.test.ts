import { describe, expect, it } from "vitest";
import { colorIndex, highlightParts, messageParts } from "./text";

describe("messageParts", () => {
  it("splits mentions and links", () => {
    expect(messageParts("hi @bob see https://x.y/z ok")).toEqual([
      { text: "hi ", kind: "text" },
      { text: "@bob", kind: "mention" },
      { text: " see ", kind: "text" },
      { text: "https://x.y/z", kind: "link" },
      { text: " ok", kind: "text" },
    ]);
  });
  it("keeps markup as text", () => {
    expect(messageParts("<b>x</b>")).toEqual([{ text: "<b>x</b>", kind: "text" }]);
  });
});

describe("highlightParts", () => {
  it("marks only inside <mark>", () => {
    expect(highlightParts("a <mark>cat</mark> <img src=x>")).toEqual([
      { text: "a ", kind: "text" },
      { text: "cat", kind: "mark" },
      { text: " <img src=x>", kind: "text" },
    ]);
  });
});

describe("colorIndex", () => {
  it("is stable and in range", () => {
    expect(colorIndex("alice")).toBe(colorIndex("alice"));
    for (const n of ["a", "bob", "zz_top"]) expect(colorIndex(n)).toBeLessThan(8);
  });
});
