// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeSocket } from "./fakesocket";
import { RoomConnection } from "./ott.svelte";

describe("RoomConnection", () => {
  let grants = 0;
  let grantOK = false;
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", FakeSocket);
    FakeSocket.reset();
    localStorage.clear();
    grants = 0;
    vi.stubGlobal("fetch", async (url: string) => {
      if (!String(url).endsWith("/api/auth/grant")) throw new Error(`unexpected ${url}`);
      grants++;
      return grantOK ? new Response(JSON.stringify({ token: "t1" }), { status: 200 }) : new Response("busy", { status: 503 });
    });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("closes a socket it has no token for, and authenticates the next", async () => {
    const room = new RoomConnection("r");
    room.start();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.made[0].open();
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toBe(1);
    expect(FakeSocket.made[0].readyState).toBe(FakeSocket.CLOSED); // not left open, unauthenticated
    expect(room.socket.state).toBe("reconnecting");
    grantOK = true;
    await vi.advanceTimersByTimeAsync(1300);
    expect(FakeSocket.made).toHaveLength(2);
    FakeSocket.made[1].open();
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.made[1].sent).toEqual([JSON.stringify({ action: "auth", token: "t1" })]);
    room.stop();
  });
});
