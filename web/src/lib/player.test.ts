import { describe, expect, it } from "vitest";
import { autostart, startup, type Autoplay } from "./player";

/** A fake <video>: play succeeds when the browser would allow it. */
function fakeVideo(allowSound: boolean, allowMuted: boolean) {
  const v = {
    muted: false,
    plays: 0,
    play(): Promise<void> {
      v.plays++;
      const ok = v.muted ? allowMuted : allowSound;
      if (ok) return Promise.resolve();
      const e = new Error("refused");
      e.name = "NotAllowedError";
      return Promise.reject(e);
    },
  };
  return v;
}

describe("autostart", () => {
  const cases: { mode: Autoplay; sound: boolean; plays: number; muted: boolean; blocked: boolean }[] = [
    { mode: "off", sound: true, plays: 0, muted: false, blocked: true },
    { mode: "sound-only", sound: true, plays: 1, muted: false, blocked: false },
    { mode: "sound-only", sound: false, plays: 1, muted: false, blocked: true },
    { mode: "always", sound: true, plays: 1, muted: false, blocked: false },
    { mode: "always", sound: false, plays: 2, muted: true, blocked: false },
  ];
  for (const c of cases) {
    it(`${c.mode} with sound ${c.sound ? "allowed" : "refused"}`, async () => {
      const v = fakeVideo(c.sound, true);
      let blocked = false;
      await autostart(v, c.mode, () => (blocked = true));
      expect({ plays: v.plays, muted: v.muted, blocked }).toEqual({ plays: c.plays, muted: c.muted, blocked: c.blocked });
    });
  }
  it("always, refused even muted, asks for a gesture", async () => {
    const v = fakeVideo(false, false);
    let blocked = false;
    await autostart(v, "always", () => (blocked = true));
    expect(blocked).toBe(true);
  });
});

describe("startup", () => {
  it("network errors before the first segment are a normal start", () => {
    const s = startup(3);
    expect(s.networkError()).toBe("starting");
    expect(s.networkError()).toBe("starting");
    expect(s.playing).toBe(false);
  });
  it("a start that never produces a segment becomes unreachable", () => {
    const s = startup(3);
    s.networkError();
    s.networkError();
    expect(s.networkError()).toBe("unreachable");
  });
  it("after the first segment a network error is real at once", () => {
    const s = startup(3);
    s.networkError();
    s.fragment();
    expect(s.playing).toBe(true);
    expect(s.networkError()).toBe("unreachable");
  });
});
