import { describe, expect, it } from "vitest";
import { channelIcon, iconPaths } from "./icons";

describe("icons", () => {
  it("every channel kind has a drawn icon, unknown kinds read as text", () => {
    for (const [kind, want] of [["text", "hash"], ["voice", "speaker"], ["watch", "play"], ["stage", "broadcast"], ["future", "hash"]]) {
      expect(channelIcon(kind)).toBe(want);
    }
  });
  it("icons are SVG path data, not emoji", () => {
    for (const [name, paths] of Object.entries(iconPaths)) {
      expect(paths.length, name).toBeGreaterThan(0);
      for (const d of paths) expect(d, name).toMatch(/^M[\d.\s,a-zA-Z-]+$/);
    }
  });
});
