// A live player bound to one <video>, shared by the stage page and
// community stage channels. WebRTC (WHEP) is tried first when the page
// gives its endpoint: sub-second, and the server sends the source as is.
// When WHEP is refused (WebRTC off, the stage live on another node), sends
// nothing, or fails later, the player falls back to HLS. hls.js is used wherever MediaSource works
// (Chromium's native HLS is partial); native HLS is the fallback (Safari on
// iOS). The component keeps the visible state: report shows a playback
// problem ("" clears it), blocked says autoplay needs a user gesture.

import { playWhep, whepSupported, type WhepSession } from "./whep";

const unreachable = "The stream is not reachable; retrying…";

export interface PlayerView {
  report(message: string): void;
  blocked(): void;
  /** starting is true from attach until the first segment has loaded. */
  starting?(on: boolean): void;
  /** ended: the playlist says the broadcast is over (the page rechecks the
   * status at once instead of waiting for its next poll). */
  ended?(): void;
}

/**
 * startup tells a normal start from a failure. A stream that has just gone
 * live has no playlist or segment for a few seconds (the encoder is still
 * producing the first one), so network errors before the first segment mean
 * "starting"; only when they go on for maxStartErrors tries (about half a
 * minute at 3 s apart) is the stream unreachable. After the first segment,
 * a network error is a real problem at once.
 */
export function startup(maxStartErrors = 10) {
  let playing = false;
  let errors = 0;
  return {
    get playing() {
      return playing;
    },
    /** networkError returns what to show: "starting" or "unreachable". */
    networkError(): "starting" | "unreachable" {
      if (playing) return "unreachable";
      errors++;
      return errors >= maxStartErrors ? "unreachable" : "starting";
    },
    /** fragment records a loaded segment. */
    fragment(): void {
      playing = true;
      errors = 0;
    },
  };
}

/** The stage's autoplay setting (Owncast's `autoplay` in /api/config):
 * off never starts by itself, always starts (muted when the browser refuses
 * sound without a gesture), sound-only starts only where sound is allowed. */
export type Autoplay = "off" | "always" | "sound-only";

/** The part of a <video> that autoplay needs. */
export interface Playable {
  muted: boolean;
  play(): Promise<void>;
}

/** autostart starts playback as the autoplay mode says; it calls blocked
 * when the viewer has to press play. */
export async function autostart(video: Playable, mode: Autoplay, blocked: () => void): Promise<void> {
  if (mode === "off") {
    blocked();
    return;
  }
  try {
    await video.play();
    return;
  } catch (e) {
    if ((e as Error).name !== "NotAllowedError") return;
  }
  if (mode === "always" && !video.muted) {
    video.muted = true;
    try {
      await video.play();
      return;
    } catch {
      // still refused: fall through to the gesture
    }
  }
  blocked();
}

/** A stage's WHEP endpoint and the token it needs ("" for public stages). */
export interface Whep {
  url: string;
  token?: string;
}

export interface LivePlayer {
  /** The source attached, or "" when detached. */
  readonly source: string;
  /** "webrtc" or "hls" while attached. */
  readonly transport: "" | "webrtc" | "hls";
  attach(video: HTMLVideoElement, src: string, autoplay?: Autoplay, whep?: Whep): Promise<void>;
  detach(video: HTMLVideoElement | undefined): void;
  destroy(): void;
}

export function livePlayer(view: PlayerView): LivePlayer {
  let hls: { destroy(): void } | null = null;
  let rtc: WhepSession | null = null;
  let source = "";
  let transport: "" | "webrtc" | "hls" = "";
  let retrying = false;

  async function attach(video: HTMLVideoElement, src: string, autoplay: Autoplay = "sound-only", whep?: Whep) {
    if (source) return;
    source = src;
    retrying = false;
    view.report("");
    if (whep && whepSupported()) {
      view.starting?.(true);
      try {
        const s = await playWhep(whep.url, whep.token ?? "");
        if (source !== src) {
          s.close(); // detached while connecting
          return;
        }
        rtc = s;
        transport = "webrtc";
        s.onfail = () => {
          // The WebRTC path broke mid-stream: carry on over HLS.
          rtc = null;
          video.srcObject = null;
          void attachHls(video, src, autoplay);
        };
        video.onended = () => view.ended?.();
        video.srcObject = s.stream;
        video.addEventListener("loadeddata", () => view.starting?.(false), { once: true });
        await autostart(video, autoplay, () => view.blocked());
        return;
      } catch {
        if (source !== src) return;
        // Refused or silent: HLS below.
      }
    }
    await attachHls(video, src, autoplay);
  }

  async function attachHls(video: HTMLVideoElement, src: string, autoplay: Autoplay) {
    transport = "hls";
    const start = startup();
    view.starting?.(true);
    const mseOk = typeof window.MediaSource !== "undefined" || "ManagedMediaSource" in window;
    video.onended = () => view.ended?.();
    if (!mseOk && video.canPlayType("application/vnd.apple.mpegurl")) {
      // Native HLS reports no segments: the first frame ends "starting".
      video.addEventListener("loadeddata", () => view.starting?.(false), { once: true });
      video.src = src;
    } else {
      try {
        const { default: Hls } = await import("hls.js");
        if (!Hls.isSupported()) {
          if (video.canPlayType("application/vnd.apple.mpegurl")) {
            video.addEventListener("loadeddata", () => view.starting?.(false), { once: true });
            video.src = src;
          } else throw new Error("this browser cannot play HLS");
        } else {
          const h = new Hls({ liveSyncDurationCount: 3 });
          h.on(Hls.Events.ERROR, (_e: unknown, d: { fatal: boolean; details: string; type: string }) => {
            if (!d.fatal) return;
            if (d.type === "networkError") {
              if (start.networkError() === "unreachable") {
                retrying = true;
                view.starting?.(false);
                view.report(unreachable);
              }
              setTimeout(() => h.startLoad(), 3000);
            } else if (d.type === "mediaError") {
              retrying = false;
              view.report("");
              h.recoverMediaError();
            } else {
              retrying = false;
              view.report(`Playback failed: ${d.details}`);
            }
          });
          h.on(Hls.Events.LEVEL_LOADED, (_e: unknown, d: { details?: { live?: boolean } }) => {
            if (d.details && d.details.live === false) view.ended?.();
          });
          h.on(Hls.Events.FRAG_LOADED, () => {
            if (!start.playing) {
              start.fragment();
              view.starting?.(false);
            }
            if (retrying) {
              retrying = false;
              view.report("");
            }
          });
          h.loadSource(src);
          h.attachMedia(video);
          hls = h;
        }
      } catch (e) {
        view.starting?.(false);
        view.report(`Could not load the player: ${(e as Error).message}`);
        return;
      }
    }
    await autostart(video, autoplay, () => view.blocked());
  }

  function detach(video: HTMLVideoElement | undefined) {
    view.starting?.(false);
    hls?.destroy();
    hls = null;
    rtc?.close();
    rtc = null;
    source = "";
    transport = "";
    if (video) {
      video.srcObject = null;
      video.removeAttribute("src");
      video.load();
    }
  }

  return {
    get source() {
      return source;
    },
    get transport() {
      return transport;
    },
    attach,
    detach,
    destroy() {
      hls?.destroy();
      hls = null;
      rtc?.close();
      rtc = null;
    },
  };
}
