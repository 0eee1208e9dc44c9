import { describe, expect, it } from "vitest";
import { localNext } from "./next";

const origin = "https://hearth.example";

describe("localNext", () => {
  it("keeps a page of this origin", () => {
    expect(localNext("/invite/abc", origin)).toBe("/invite/abc");
    expect(localNext("/c/1/2?x=1#m", origin)).toBe("/c/1/2?x=1#m");
  });
  it("refuses every other host, however it is spelled", () => {
    for (const n of [
      null, "", "https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil.example",
      "/\t/evil.example", "/\n/evil.example", "/\\/evil.example", "javascript:alert(1)", "evil.example",
    ]) {
      expect(localNext(n, origin), String(n)).toBe("/");
    }
  });
});
