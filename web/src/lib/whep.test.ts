import { afterEach, describe, expect, it, vi } from "vitest";
import { playWhep } from "./whep";

// A fake RTCPeerConnection: gathering is complete at once, and setting the
// answer delivers a video track. fail() drops the connection as a server
// that ends the broadcast (or a network that breaks) does.
class FakePC {
  static last: FakePC | null = null;
  iceGatheringState = "complete";
  connectionState = "new";
  localDescription: { sdp: string } | null = null;
  ontrack: ((e: { track: { kind: string } }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  closed = false;
  constructor() {
    FakePC.last = this;
  }
  addTransceiver() {}
  addEventListener() {}
  removeEventListener() {}
  async createOffer() {
    return { type: "offer", sdp: "v=0 offer" };
  }
  async setLocalDescription(d: { sdp: string }) {
    this.localDescription = d;
  }
  async setRemoteDescription() {
    queueMicrotask(() => this.ontrack?.({ track: { kind: "video" } }));
  }
  close() {
    this.closed = true;
  }
  fail() {
    this.connectionState = "failed";
    this.onconnectionstatechange?.();
  }
}

class FakeStream {
  tracks: unknown[] = [];
  addTrack(t: unknown) {
    this.tracks.push(t);
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
});

function stub() {
  const calls: { url: string; method: string }[] = [];
  vi.stubGlobal("RTCPeerConnection", FakePC);
  vi.stubGlobal("MediaStream", FakeStream);
  vi.stubGlobal("location", { href: "https://hearth.example/c/1/2", origin: "https://hearth.example" });
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: { method: string }) => {
      calls.push({ url: String(url), method: init.method });
      if (init.method === "POST") return new Response("v=0 answer", { status: 201, headers: { Location: "/api/whep/default/sess-1" } });
      return new Response(null, { status: 204 });
    }),
  );
  return calls;
}

describe("playWhep", () => {
  // The app passes a path (/api/whep/<stage>), not an absolute URL: the
  // session's Location resolves against the page, not against that path.
  it("close ends the session on the server (DELETE of its Location)", async () => {
    const calls = stub();
    const s = await playWhep("/api/whep/default", "", 1000);
    expect(() => s.close()).not.toThrow();
    expect(calls).toContainEqual({ url: "https://hearth.example/api/whep/default/sess-1", method: "DELETE" });
  });

  it("a connection that fails mid-stream calls onfail (the player carries on over HLS)", async () => {
    stub();
    const s = await playWhep("/api/whep/default", "", 1000);
    let failed = 0;
    s.onfail = () => failed++;
    expect(() => FakePC.last!.fail()).not.toThrow();
    expect(failed).toBe(1);
    expect(FakePC.last!.closed).toBe(true);
  });
});
