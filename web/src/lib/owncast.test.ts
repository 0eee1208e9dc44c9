// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { actionURL, socialURL, type ExternalAction } from "./owncast.svelte";

describe("actionURL", () => {
  const action = (url: string) => ({ title: "x", url }) as ExternalAction;

  it("appends the page and keeps an https action", () => {
    const u = new URL(actionURL(action("https://tips.example/jar?a=1"))!);
    expect(u.origin + u.pathname).toBe("https://tips.example/jar");
    expect(u.searchParams.get("a")).toBe("1");
    expect(u.searchParams.get("instance")).toBe(location.href);
  });

  // The server accepts only http(s) action URLs, but the page opens what it
  // is given with window.open: a script URL there runs in a window of this
  // origin (with the access token in its storage), so the page checks too.
  for (const bad of ["javascript:window.__xss=1//", " JavaScript:alert(1)//", "java\tscript:alert(1)//", "data:text/html,<script>alert(1)</script>", "vbscript:x", "blob:https://x/y"]) {
    it(`refuses ${JSON.stringify(bad)}`, () => expect(actionURL(action(bad))).toBeNull());
  }
});

describe("socialURL", () => {
  it("keeps an http(s) link", () => expect(socialURL({ platform: "github", url: "https://github.com/owncast" })).toBe("https://github.com/owncast"));
  for (const bad of ["javascript:alert(1)//", "data:text/html,x", "/relative", ""]) {
    it(`refuses ${JSON.stringify(bad)}`, () => expect(socialURL({ platform: "x", url: bad })).toBeNull());
  }
});
