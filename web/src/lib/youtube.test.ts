// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { API_URL, LOAD_TIMEOUT_MS, youTubeAPI } from "./youtube";

// jsdom fetches no scripts: the API's script neither loads nor fails, as on
// a network that black-holes youtube.com, unless the test says so.
describe("youTubeAPI", () => {
  const w = window as any;
  const scripts = () => [...document.head.querySelectorAll("script")].filter((s) => s.src === API_URL);
  beforeEach(() => {
    vi.useFakeTimers();
    delete w.YT;
  });
  afterEach(() => {
    vi.useRealTimers();
    scripts().forEach((s) => s.remove());
  });

  it("gives up a load that never ends, and tries again after", async () => {
    const first = youTubeAPI();
    expect(youTubeAPI()).toBe(first); // one load for every player
    expect(scripts()).toHaveLength(1);
    const failed = expect(first).rejects.toThrow("YouTube did not answer");
    await vi.advanceTimersByTimeAsync(LOAD_TIMEOUT_MS);
    await failed;
    expect(scripts()).toHaveLength(0);

    const second = youTubeAPI();
    expect(second).not.toBe(first);
    w.YT = { Player: class {} };
    w.onYouTubeIframeAPIReady();
    await expect(second).resolves.toBeUndefined();
    await expect(youTubeAPI()).resolves.toBeUndefined();
  });

  it("says so when the script is refused", async () => {
    const p = youTubeAPI();
    scripts()[0].dispatchEvent(new Event("error"));
    await expect(p).rejects.toThrow("not reachable");
  });
});
