import { describe, expect, it } from "vitest";
import { settleRead } from "./settle";

const m = (id: string, s: number, body = id) => ({ id, created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString(), body });

describe("settleRead", () => {
  it("puts the read oldest first", () => {
    expect(settleRead([m("b", 2), m("a", 1)], []).map((x) => x.id)).toEqual(["a", "b"]);
  });
  it("keeps what arrived live after the read's newest", () => {
    const shown = [m("c", 3)];
    expect(settleRead([m("b", 2), m("a", 1)], shown).map((x) => x.id)).toEqual(["a", "b", "c"]);
  });
  it("keeps a live message once when the read has it too", () => {
    expect(settleRead([m("c", 3), m("b", 2)], [m("c", 3)]).map((x) => x.id)).toEqual(["b", "c"]);
  });
  it("drops what the page held from before the read's newest", () => {
    // Older than the read's newest and not in it: deleted meanwhile, or
    // below the page the read covers.
    expect(settleRead([m("c", 3)], [m("a", 1), m("c", 3)]).map((x) => x.id)).toEqual(["c"]);
  });
  it("keeps live messages on an empty read", () => {
    expect(settleRead([], [m("a", 1)]).map((x) => x.id)).toEqual(["a"]);
  });
  it("applies edits and deletes that came meanwhile", () => {
    const changed = new Map([["a", m("a", 1, "edited")], ["b", null]]);
    const out = settleRead([m("b", 2), m("a", 1)], [], changed);
    expect(out.map((x) => [x.id, x.body])).toEqual([["a", "edited"]]);
  });
  it("leaves its input alone", () => {
    const got = [m("b", 2), m("a", 1)];
    settleRead(got, []);
    expect(got.map((x) => x.id)).toEqual(["b", "a"]);
  });
});
