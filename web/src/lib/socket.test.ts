import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeSocket } from "./fakesocket";
import { CONNECT_TIMEOUT_MS, fitCloseReason, followPageCache, ReconnectingSocket } from "./socket.svelte";

describe("ReconnectingSocket", () => {
  let s: ReconnectingSocket;
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", FakeSocket);
    FakeSocket.reset();
    FakeSocket.closeEvents = false; // each test fires the close events it means
    s = new ReconnectingSocket({ url: () => "ws://h/ws", onMessage: () => {}, label: "chat" });
  });
  afterEach(() => {
    s.stop();
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  /** settle lets the attempt's promise and ms of timers run. */
  const settle = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

  it("opens, and reconnects after a drop", async () => {
    s.start();
    await settle();
    expect(FakeSocket.made).toHaveLength(1);
    FakeSocket.made[0].open();
    expect(s.state).toBe("open");
    FakeSocket.made[0].drop();
    expect(s.state).toBe("reconnecting");
    expect(s.lastError).toBe("connection lost");
    await settle(1300);
    expect(FakeSocket.made).toHaveLength(2);
  });

  it("goes on after an attempt the browser refuses with no close event", async () => {
    s.start();
    await settle();
    FakeSocket.made[0].open();
    FakeSocket.made[0].drop(1005);
    await settle(1300);
    expect(FakeSocket.made).toHaveLength(2);
    FakeSocket.made[1].block();
    await settle(1000);
    expect(s.state).toBe("reconnecting");
    expect(s.attempt).toBe(2);
    expect(s.lastError).toBe("connection lost");
    await settle(2600);
    expect(FakeSocket.made).toHaveLength(3);
    FakeSocket.made[2].open();
    expect(s.state).toBe("open");
  });

  it("goes on after a socket the browser would not make", async () => {
    s.start();
    await settle();
    FakeSocket.made[0].open();
    FakeSocket.refuse = true;
    FakeSocket.made[0].drop();
    await settle(1300);
    expect(s.state).toBe("reconnecting");
    expect(s.lastError).toBe("bad URL");
    FakeSocket.refuse = false;
    await settle(2600);
    expect(FakeSocket.made).toHaveLength(2);
  });

  it("gives up an attempt that never opens, even with no close event", async () => {
    s.start();
    await settle();
    expect(FakeSocket.made).toHaveLength(1);
    await settle(CONNECT_TIMEOUT_MS);
    expect(FakeSocket.made[0].readyState).toBe(FakeSocket.CLOSED);
    expect(s.lastError).toBe("timed out");
    await settle(1300);
    expect(FakeSocket.made).toHaveLength(2);
  });

  it("keeps one socket when Retry now interrupts an attempt", async () => {
    s.start();
    await settle();
    expect(FakeSocket.made).toHaveLength(1);
    s.reconnectNow();
    // The interrupted attempt's close event arrives while the new one
    // starts.
    FakeSocket.made[0].onclose?.({ code: 1006, reason: "" });
    await settle();
    expect(FakeSocket.made).toHaveLength(2);
    FakeSocket.made[1].open();
    await settle(35_000);
    expect(FakeSocket.made).toHaveLength(2);
    expect(s.state).toBe("open");
  });

  it("takes a late close event of a socket given up as nothing", async () => {
    s.start();
    await settle();
    await settle(CONNECT_TIMEOUT_MS + 1300);
    expect(FakeSocket.made).toHaveLength(2);
    FakeSocket.made[0].onclose?.({ code: 1006, reason: "" });
    expect(s.attempt).toBe(1);
    FakeSocket.made[1].open();
    expect(s.state).toBe("open");
  });

  it("lets go of its socket while the page is in the back-forward cache, and connects again when it is shown", async () => {
    FakeSocket.closeEvents = true;
    const page = new EventTarget();
    followPageCache(page);
    const dispatchEvent = (e: Event) => page.dispatchEvent(e);
    s.start();
    await settle();
    FakeSocket.made[0].open();
    dispatchEvent(Object.assign(new Event("pagehide"), { persisted: true }));
    expect(FakeSocket.made[0].readyState).toBe(FakeSocket.CLOSED);
    await settle(60_000);
    expect(FakeSocket.made).toHaveLength(1); // no reconnecting while hidden
    dispatchEvent(Object.assign(new Event("pageshow"), { persisted: true }));
    await settle();
    expect(FakeSocket.made).toHaveLength(2);
    FakeSocket.made[1].open();
    expect(s.state).toBe("open");
    // A page that is only being unloaded is left to the browser.
    dispatchEvent(Object.assign(new Event("pagehide"), { persisted: false }));
    expect(FakeSocket.made[1].readyState).toBe(FakeSocket.OPEN);
  });
});

describe("fitCloseReason", () => {
  it("keeps a reason within a close frame's 123 bytes", () => {
    expect(fitCloseReason("short")).toBe("short");
    const long = "é".repeat(100); // 200 bytes
    const cut = fitCloseReason(long);
    expect(new TextEncoder().encode(cut).length).toBeLessThanOrEqual(123);
    expect(cut).toBe("é".repeat(61));
  });
});
