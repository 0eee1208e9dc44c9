// ReconnectingSocket keeps one WebSocket open: it reconnects with backoff
// after any unplanned close and exposes its state for the "reconnecting"
// banner. Each surface's protocol (Together gateway, OTT room, Owncast chat)
// wraps one.
import { backoffDelay } from "./backoff";

/** How a socket ended: its close event's code and reason, or 1006 for a
 * socket that failed without one. */
export type Ended = Pick<CloseEvent, "code" | "reason">;

export type SocketState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

export interface SocketOptions {
  /** url is called before every attempt (tokens may have been refreshed);
   * signal ends it when the attempt gives up (CONNECT_TIMEOUT_MS). */
  url: (signal: AbortSignal) => Promise<string> | string;
  onOpen?: (ws: WebSocket) => void;
  onMessage: (data: string) => void;
  /** onClose may return false to stop reconnecting (e.g. kicked). */
  onClose?: (ev: Ended) => boolean | void;
  label: string;
}

/** An attempt that has neither opened nor failed by then (a request or a
 * socket hanging on a dead connection, as after a laptop's sleep) is given
 * up and the next one scheduled: no attempt may keep the banner for ever. */
export const CONNECT_TIMEOUT_MS = 15_000;

/** fitCloseReason cuts s to the 123 bytes of UTF-8 a close frame's reason
 * may hold (WebSocket.close throws on a longer one). */
export function fitCloseReason(s: string): string {
  const utf8 = new TextEncoder();
  while (utf8.encode(s).length > 123) s = s.slice(0, -1);
  return s;
}

/** All live sockets, for the app-wide connection banner. */
export const sockets = $state<{ list: ReconnectingSocket[] }>({ list: [] });

export class ReconnectingSocket {
  state = $state<SocketState>("idle");
  attempt = $state(0);
  lastError = $state("");
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** suspended: let go while the page sits in the back-forward cache. */
  private suspended = false;
  /** runs numbers the attempts: an attempt overtaken by another (Retry
   * now) drops its result. */
  private runs = 0;

  constructor(private readonly opts: SocketOptions) {}

  get label() {
    return this.opts.label;
  }

  start() {
    this.stopped = false;
    if (!sockets.list.includes(this)) sockets.list.push(this);
    void this.connect();
  }

  send(data: unknown): boolean {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(typeof data === "string" ? data : JSON.stringify(data));
      return true;
    }
    return false;
  }

  /** reconnectNow skips the wait (the user pressed "retry"). */
  reconnectNow() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // The socket given up is let go first: its close, when it comes, is
    // not taken for the new one's and schedules nothing.
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    void this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
    this.state = "closed";
    const i = sockets.list.indexOf(this);
    if (i >= 0) sockets.list.splice(i, 1);
  }

  /** suspend lets the socket go while the page is hidden in the
   * back-forward cache (pagehide, persisted): the browser keeps a cached
   * page's sockets open, so a watch room kept listing someone who had
   * left it, and counted them again when they came back. */
  suspend() {
    if (this.stopped || this.suspended) return;
    this.suspended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.runs++; // an attempt on its way drops its result
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, "page hidden");
  }

  /** resume connects again when the cached page is shown. */
  resume() {
    if (!this.suspended) return;
    this.suspended = false;
    void this.connect();
  }

  private async connect() {
    if (this.stopped || this.suspended) return;
    this.state = this.attempt === 0 ? "connecting" : "reconnecting";
    const run = ++this.runs;
    let url: string;
    const ctl = new AbortController();
    const guard = setTimeout(() => ctl.abort(), CONNECT_TIMEOUT_MS);
    try {
      url = await Promise.race([
        this.opts.url(ctl.signal),
        new Promise<never>((_, reject) => ctl.signal.addEventListener("abort", () => reject(new Error("timed out")))),
      ]);
    } catch (e) {
      clearTimeout(guard);
      if (run !== this.runs) return; // a retry started meanwhile
      this.lastError = (e as Error).message;
      this.schedule();
      return;
    }
    clearTimeout(guard);
    if (this.stopped || run !== this.runs) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      this.lastError = (e as Error).message;
      this.schedule();
      return;
    }
    this.ws = ws;
    // A socket that has not opened in time is given up and the next
    // attempt scheduled, whether or not its close event ever comes.
    const opening = setTimeout(() => {
      if (this.ws !== ws || ws.readyState === WebSocket.OPEN) return;
      ws.close();
      this.ended(ws, { code: 1006, reason: "timed out" });
    }, CONNECT_TIMEOUT_MS);
    // A socket the browser refuses (a Content-Security-Policy or an
    // extension's block) fires error and is CLOSED with no close event;
    // one that fails on the network fires close right after error.
    ws.onerror = () => {
      setTimeout(() => {
        if (this.ws === ws && ws.readyState === WebSocket.CLOSED) {
          clearTimeout(opening);
          this.ended(ws, { code: 1006, reason: "" });
        }
      }, 1000);
    };
    ws.onopen = () => {
      clearTimeout(opening);
      if (this.ws !== ws) return;
      this.state = "open";
      this.attempt = 0;
      this.lastError = "";
      this.opts.onOpen?.(ws);
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws && typeof ev.data === "string") this.opts.onMessage(ev.data);
    };
    ws.onclose = (ev) => {
      clearTimeout(opening);
      this.ended(ws, ev);
    };
  }

  /** ended takes ws's end once: its close event, or its failure when no
   * close event comes. */
  private ended(ws: WebSocket, ev: Ended) {
    if (this.ws !== ws) return;
    this.ws = null;
    if (this.stopped) return;
    const again = this.opts.onClose?.(ev);
    if (again === false) {
      this.state = "closed";
      this.lastError = ev.reason || `closed (${ev.code})`;
      return;
    }
    this.lastError = ev.reason || (ev.code === 1006 ? "connection lost" : `closed (${ev.code})`);
    this.schedule();
  }

  private schedule() {
    if (this.stopped || this.suspended) return;
    this.state = "reconnecting";
    const delay = backoffDelay(this.attempt);
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }
}

// A page put in the back-forward cache keeps its sockets open (and so its
// place in rooms, chats and presence) until the browser evicts it: they
// are closed when it is hidden and opened again if it is shown.
export function followPageCache(page: EventTarget) {
  page.addEventListener("pagehide", (e) => {
    if ((e as PageTransitionEvent).persisted) for (const s of [...sockets.list]) s.suspend();
  });
  page.addEventListener("pageshow", (e) => {
    if ((e as PageTransitionEvent).persisted) for (const s of [...sockets.list]) s.resume();
  });
}
if (typeof window !== "undefined") followPageCache(window);
