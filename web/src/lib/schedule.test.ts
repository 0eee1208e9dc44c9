import { describe, expect, it } from "vitest";
import { countdown, nextEventLabel } from "./schedule";

const now = Date.parse("2026-03-01T12:00:00Z");
const ev = { id: "e1", name: "Build night", description: "", startTime: "2026-03-02T14:30:00Z", durationMinutes: 60, chatOpen: false };

describe("countdown", () => {
  it.each([
    ["2026-03-02T14:30:00Z", "in 1 d 2 h"],
    ["2026-03-01T17:04:00Z", "in 5 h 4 min"],
    ["2026-03-01T12:02:30Z", "in 3 min"],
    ["2026-03-01T11:00:00Z", "now"],
    ["not a time", ""],
  ])("%s → %s", (start, want) => expect(countdown(start, now)).toBe(want));
});

describe("nextEventLabel", () => {
  it("names the next event, with the countdown only when asked", () => {
    expect(nextEventLabel(ev, { enabled: true, showCountdown: false, chatOpenMinutesBefore: 0 }, now, "en-US")).toMatch(/^Next: Build night, [^(]+$/);
    expect(nextEventLabel(ev, { enabled: true, showCountdown: true, chatOpenMinutesBefore: 0 }, now, "en-US")).toMatch(/\(in 1 d 2 h\)$/);
  });
  it("says when it has started, and nothing without an event", () => {
    expect(nextEventLabel({ ...ev, startTime: "2026-03-01T11:00:00Z" }, undefined, now)).toBe("Scheduled now: Build night");
    expect(nextEventLabel(undefined, undefined, now)).toBe("");
    expect(nextEventLabel({ ...ev, startTime: "bad" }, undefined, now)).toBe("");
  });
});
