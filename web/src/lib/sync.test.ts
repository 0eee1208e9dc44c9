import { describe, expect, it } from "vitest";
import { applySync, correction, defaultSync, expectedPosition, type RoomClock } from "./sync";

const playing: RoomClock = { position: 10, playing: true, speed: 1, at: 0 };

describe("expectedPosition", () => {
  it.each([
    ["paused clock does not move", { ...playing, playing: false }, 5000, 10],
    ["playing advances with time", playing, 2500, 12.5],
    ["speed scales time", { ...playing, speed: 2 }, 1000, 12],
    ["a clock from the future does not go back", playing, -1000, 10],
  ])("%s", (_n, c, now, want) => {
    expect(expectedPosition(c as RoomClock, now as number)).toBeCloseTo(want as number, 6);
  });

  it("is capped at the duration", () => {
    expect(expectedPosition(playing, 60_000, 30)).toBe(30);
  });
});

describe("correction", () => {
  it.each([
    { name: "in step: nothing", local: 12, want: "none", rate: 1 },
    { name: "inside the deadband: nothing", local: 11.97, want: "none", rate: 1 },
    { name: "slightly behind: speed up", local: 11.9, want: "rate", rate: 1.05 },
    { name: "a little behind: speed up less", local: 11.95, want: "rate", rate: 1.025 },
    { name: "slightly ahead: slow down", local: 12.1, want: "rate", rate: 0.95 },
    { name: "0.9 s behind still uses rate", local: 11.1, want: "rate", rate: 1.05 },
    { name: "past 1 s behind: seek", local: 10.5, want: "seek", rate: 1 },
    { name: "past 1 s ahead: seek", local: 13.5, want: "seek", rate: 1 },
  ])("$name", ({ local, want, rate }) => {
    const c = correction(playing, local, 2000);
    expect(c.kind).toBe(want);
    expect(c.rate).toBeCloseTo(rate, 4);
    if (c.kind === "seek") expect(c.to).toBeCloseTo(12, 6);
  });

  it("never leaves ±5 % of the room speed", () => {
    for (let local = 10; local <= 14; local += 0.01) {
      const c = correction({ ...playing, speed: 1.5 }, local, 2000);
      expect(c.rate).toBeGreaterThanOrEqual(1.5 * 0.95 - 1e-9);
      expect(c.rate).toBeLessThanOrEqual(1.5 * 1.05 + 1e-9);
    }
  });

  it("paused: seeks to the exact position beyond a small tolerance", () => {
    const c = correction({ ...playing, playing: false }, 10.2, 9999);
    expect(c.kind).toBe("seek");
    if (c.kind === "seek") expect(c.to).toBe(10);
    expect(correction({ ...playing, playing: false }, 10.01, 9999).kind).toBe("none");
  });

  it("rate correction converges: a simulated player ends within 50 ms", () => {
    let local = 11.3; // 0.7 s behind at t=2s
    let now = 2000;
    for (let i = 0; i < 200; i++) {
      const c = correction(playing, local, now, defaultSync);
      expect(c.kind).not.toBe("seek");
      local += 0.1 * c.rate; // 100 ms of playback at the chosen rate
      now += 100;
    }
    expect(Math.abs(expectedPosition(playing, now) - local)).toBeLessThan(0.05);
  });
});

describe("applySync", () => {
  it.each([
    ["pause folds elapsed time", { isPlaying: false }, 3000, { position: 13, playing: false, speed: 1 }],
    ["seek sets the position", { playbackPosition: 42 }, 3000, { position: 42, playing: true, speed: 1 }],
    ["speed keeps the position", { playbackSpeed: 2 }, 1000, { position: 11, playing: true, speed: 2 }],
    ["empty delta keeps everything", {}, 1000, { position: 11, playing: true, speed: 1 }],
  ])("%s", (_n, msg, now, want) => {
    const c = applySync(playing, msg, now as number);
    expect(c.position).toBeCloseTo(want.position, 6);
    expect(c.playing).toBe(want.playing);
    expect(c.speed).toBe(want.speed);
    expect(c.at).toBe(now);
  });
});
