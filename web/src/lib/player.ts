// A live HLS player bound to one <video>, shared by the stage page and
// community stage channels. hls.js is used wherever MediaSource works
// (Chromium's native HLS is partial); native HLS is the fallback (Safari on
// iOS). The component keeps the visible state: report shows a playback
// problem ("" clears it), blocked says autoplay needs a user gesture.

const unreachable = "The stream is not reachable; retrying…";

export interface PlayerView {
  report(message: string): void;
  blocked(): void;
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

export interface LivePlayer {
  /** The source attached, or "" when detached. */
  readonly source: string;
  attach(video: HTMLVideoElement, src: string, autoplay?: Autoplay): Promise<void>;
  detach(video: HTMLVideoElement | undefined): void;
  destroy(): void;
}

export function livePlayer(view: PlayerView): LivePlayer {
  let hls: { destroy(): void } | null = null;
  let source = "";
  let retrying = false;

  async function attach(video: HTMLVideoElement, src: string, autoplay: Autoplay = "sound-only") {
    if (source) return;
    source = src;
    retrying = false;
    view.report("");
    const mseOk = typeof window.MediaSource !== "undefined" || "ManagedMediaSource" in window;
    if (!mseOk && video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
    } else {
      try {
        const { default: Hls } = await import("hls.js");
        if (!Hls.isSupported()) {
          if (video.canPlayType("application/vnd.apple.mpegurl")) video.src = src;
          else throw new Error("this browser cannot play HLS");
        } else {
          const h = new Hls({ liveSyncDurationCount: 3 });
          h.on(Hls.Events.ERROR, (_e: unknown, d: { fatal: boolean; details: string; type: string }) => {
            if (!d.fatal) return;
            if (d.type === "networkError") {
              retrying = true;
              view.report(unreachable);
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
          h.on(Hls.Events.FRAG_LOADED, () => {
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
        view.report(`Could not load the player: ${(e as Error).message}`);
        return;
      }
    }
    await autostart(video, autoplay, () => view.blocked());
  }

  function detach(video: HTMLVideoElement | undefined) {
    hls?.destroy();
    hls = null;
    source = "";
    if (video) {
      video.removeAttribute("src");
      video.load();
    }
  }

  return {
    get source() {
      return source;
    },
    attach,
    detach,
    destroy() {
      hls?.destroy();
      hls = null;
    },
  };
}
