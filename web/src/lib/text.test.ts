import { describe, expect, it } from "vitest";
import { colorIndex, counted, highlightParts, messageParts, roomTitle } from "./text";

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

describe("links", () => {
  it.each([
    ["[link](https://example.com)", "https://example.com"],
    ["see https://example.com.", "https://example.com"],
    ["(https://example.com/a)", "https://example.com/a"],
    ["https://en.wikipedia.org/wiki/Go_(game)", "https://en.wikipedia.org/wiki/Go_(game)"],
    ["https://example.com/?q=1, then", "https://example.com/?q=1"],
  ])("%s links %s", (input, url) => {
    const link = messageParts(input).find((p) => p.kind === "link");
    expect(link?.text).toBe(url);
    expect(messageParts(input).map((p) => p.text).join("")).toBe(input);
  });
});

describe("highlightParts", () => {
  it("undoes the server's escaping once", () => {
    expect(highlightParts("a &gt; b &amp;lt; <mark>x&lt;y</mark> it&#39;s")).toEqual([
      { text: "a > b &lt; ", kind: "text" },
      { text: "x<y", kind: "mark" },
      { text: " it's", kind: "text" },
    ]);
  });
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

describe("roomTitle", () => {
  const cases: [string, string, string | undefined, string][] = [
    ["title wins", "book-club", "Book club", "Book club"],
    ["named room without a title", "book-club", "", "book-club"],
    ["quick room", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", undefined, "Quick room"],
    ["quick room with a title", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "Movie night", "Movie night"],
    ["blank title", "3F2504E0-4F89-41D3-9A0C-0305E82C3301", "  ", "Quick room"],
  ];
  for (const [name, room, title, want] of cases) {
    it(name, () => expect(roomTitle(room, title)).toBe(want));
  }
});

describe("counted", () => {
  it("uses the singular for exactly one", () => {
    expect(counted(1, "member")).toBe("1 member");
    expect(counted(1, "reply", "replies")).toBe("1 reply");
  });
  it("uses the plural for zero and many", () => {
    expect(counted(0, "member")).toBe("0 members");
    expect(counted(2, "member")).toBe("2 members");
    expect(counted(12, "reply", "replies")).toBe("12 replies");
  });
});
