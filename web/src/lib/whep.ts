// WHEP playback: a receive-only RTCPeerConnection whose offer is POSTed to
// Hearth's /api/whep/{stage}; the answer comes back in the 201 and the
// session's URL in Location (DELETE ends it). Hearth answers with every
// candidate, so nothing trickles.
import { gathered } from "./ice";

export interface WhepSession {
  /** The stream to put in video.srcObject. */
  readonly stream: MediaStream;
  /** onfail is called once if the connection fails after it started. */
  onfail: (() => void) | null;
  close(): void;
}

/** whepSupported says whether this browser can play WebRTC at all. */
export function whepSupported(): boolean {
  return typeof RTCPeerConnection !== "undefined" && typeof MediaStream !== "undefined";
}

/**
 * playWhep connects to a WHEP endpoint. It rejects when the server refuses
 * (not live, another node, no WebRTC: the caller plays HLS instead), when
 * the server does not answer the offer within timeoutMs, or when no media
 * arrives within timeoutMs after that.
 */
export async function playWhep(url: string, token = "", timeoutMs = 8000): Promise<WhepSession> {
  const pc = new RTCPeerConnection();
  const stream = new MediaStream();
  let location = "";
  let closed = false;
  const session: WhepSession = {
    stream,
    onfail: null,
    close() {
      if (closed) return;
      closed = true;
      pc.close();
      // The endpoint is a path (/api/whep/<stage>): the session's Location
      // resolves against the endpoint resolved against the page. Against
      // the bare path it threw, so the session was never ended and a
      // connection that failed mid-stream never reached onfail (no HLS).
      if (location) {
        const at = new URL(location, new URL(url, globalThis.location.href)).toString();
        void fetch(at, { method: "DELETE", keepalive: true, credentials: "omit" }).catch(() => null);
      }
    },
  };
  try {
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const gotMedia = new Promise<void>((resolve) => {
      pc.ontrack = (e) => {
        stream.addTrack(e.track);
        if (e.track.kind === "video") resolve();
      };
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const headers: Record<string, string> = { "Content-Type": "application/sdp" };
    if (token) headers.Authorization = `Bearer ${token}`;
    // The offer's answer is bounded too: a server that never answers (a
    // proxy holding the request) must not keep the page from HLS.
    const res = await fetch(url, {
      method: "POST",
      headers,
      body: pc.localDescription?.sdp ?? "",
      credentials: "omit",
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 201) throw new Error(`WHEP refused (${res.status})`);
    location = res.headers.get("Location") ?? "";
    await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
    await Promise.race([
      gotMedia,
      new Promise((_, reject) => setTimeout(() => reject(new Error("no WebRTC media")), timeoutMs)),
    ]);
    pc.onconnectionstatechange = () => {
      if (!closed && (pc.connectionState === "failed" || pc.connectionState === "closed")) {
        session.close();
        session.onfail?.();
      }
    };
    return session;
  } catch (e) {
    session.close();
    throw e;
  }
}

