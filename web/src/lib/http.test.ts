import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, READ_TIMEOUT_MS, request, retryable } from "./http";

/** A server that never answers: each fetch waits until it is aborted. */
function silentServer() {
  const calls: string[] = [];
  vi.stubGlobal("fetch", (url: string, init: RequestInit) => {
    calls.push(`${init.method} ${url}`);
    return new Promise((_, reject) => {
      init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
    });
  });
  return calls;
}

describe("request", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("gives up a read that gets no answer", async () => {
    silentServer();
    const read = request("Loading messages", "/channels/x/messages");
    const failed = expect(read).rejects.toThrow(ApiError);
    await vi.advanceTimersByTimeAsync(READ_TIMEOUT_MS);
    await failed;
    await expect(read).rejects.toThrow("Loading messages failed: the server did not answer in 60 s");
  });

  it("leaves a write waiting", async () => {
    silentServer();
    let settled = false;
    void request("Sending", "/channels/x/messages", { method: "POST", body: { content: "hi" } }).finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(3 * READ_TIMEOUT_MS);
    expect(settled).toBe(false);
  });

  it("still reports the caller's own abort as an abort", async () => {
    silentServer();
    const ctl = new AbortController();
    const read = request("Checking your session", "/users/@me", { signal: ctl.signal });
    ctl.abort();
    await expect(read).rejects.toMatchObject({ name: "AbortError" });
  });

  it("answers a read that comes in time", async () => {
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ ok: 1 }), { status: 200 }));
    await expect(request("Loading", "/x")).resolves.toEqual({ ok: 1 });
    await vi.advanceTimersByTimeAsync(2 * READ_TIMEOUT_MS); // its timer is gone
  });
});

describe("retryable", () => {
  it("offers no retry after the server refused the request itself", () => {
    expect(retryable(new ApiError("Loading the invite", 404, "Invite not found"))).toBe(false);
    expect(retryable(new ApiError("Saving", 400, "Bad"))).toBe(false);
    expect(retryable(new ApiError("Loading", 403, "Missing permission"))).toBe(false);
  });
  it("offers one after a rate limit, a timeout, a server failure or no answer", () => {
    expect(retryable(new ApiError("Loading", 429, "Too many requests"))).toBe(true);
    expect(retryable(new ApiError("Loading", 408, "Timeout"))).toBe(true);
    expect(retryable(new ApiError("Loading", 503, "Unavailable"))).toBe(true);
    expect(retryable(new ApiError("Loading", 0, "network error"))).toBe(true);
    expect(retryable(new Error("boom"))).toBe(true);
  });
});
