import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff";

describe("backoffDelay", () => {
  it.each([
    [0, 0.5, 1000],
    [1, 0.5, 2000],
    [3, 0.5, 8000],
    [10, 0.5, 30000],
  ])("attempt %i without jitter → %i ms", (attempt, r, want) => {
    expect(backoffDelay(attempt, 1000, 30000, () => r)).toBe(want);
  });

  it("jitter stays within ±25 % and under the cap", () => {
    for (let a = 0; a < 12; a++) {
      for (const r of [0, 0.25, 0.75, 0.999]) {
        const d = backoffDelay(a, 1000, 30000, () => r);
        const base = Math.min(30000, 1000 * 2 ** a);
        expect(d).toBeGreaterThanOrEqual(Math.round(base * 0.75) - 1);
        expect(d).toBeLessThanOrEqual(30000);
      }
    }
  });
});
