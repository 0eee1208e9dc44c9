import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { every } from "./every";

describe("every", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("never overlaps a run still on its way", async () => {
    let inFlight = 0;
    let most = 0;
    let runs = 0;
    const answers: (() => void)[] = [];
    const stop = every(5_000, () => {
      runs++;
      inFlight++;
      most = Math.max(most, inFlight);
      return new Promise<void>((r) => answers.push(() => (inFlight--, r())));
    });
    expect(runs).toBe(1); // at once
    await vi.advanceTimersByTimeAsync(60_000); // a server that does not answer
    expect(runs).toBe(1);
    answers.shift()!();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(2);
    expect(most).toBe(1);
    stop();
    answers.shift()!();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs).toBe(2);
  });

  it("goes on after a failed run, at the pace ms gives", async () => {
    let runs = 0;
    const stop = every(
      () => (runs < 3 ? 1_000 : 10_000),
      async () => {
        runs++;
        throw new Error("refused");
      },
    );
    await vi.advanceTimersByTimeAsync(2_000);
    expect(runs).toBe(3);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(runs).toBe(3);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toBe(4);
    stop();
  });
});
