// OpenTogetherTube's API: a token from /api/auth/grant, REST under
// /api/room/*, and the room socket at /api/room/<name> (first frame
// {"action":"auth","token"}). The room's state arrives as `sync` snapshots
// and deltas; requests go out as {"action":"req","request":{type,…}}.
import { ApiError, request, type RequestOptions } from "./http";
import { fitCloseReason, ReconnectingSocket } from "./socket.svelte";
import { applySync, type RoomClock } from "./sync";

const TOKEN = "ott_token";

export interface Video {
  service: string;
  id: string;
  title?: string;
  description?: string;
  thumbnail?: string;
  length?: number;
  mime?: string;
  hls_url?: string;
  src_url?: string;
  startAt?: number;
}

export interface RoomUser {
  id: string;
  name: string;
  isLoggedIn: boolean;
  status: string;
  role: number;
}

export interface RoomInfo {
  name: string;
  title: string;
  description: string;
  isTemporary: boolean;
  visibility: string;
  queueMode: string;
  users?: RoomUser[];
  queue?: Video[];
}

export interface RoomListItem {
  name: string;
  title: string;
  description: string;
  isTemporary: boolean;
  visibility: string;
  queueMode: string;
  currentSource: Video | null;
  users: number;
}

export const Req = { Playback: 2, Skip: 3, Seek: 4, Add: 5, Remove: 6, Order: 7, Vote: 8, Promote: 9, Chat: 11, PlaybackSpeed: 16, Kick: 18 } as const;

/** OTT roles as numbers on the wire. */
export const roleNames: Record<number, string> = { [-1]: "Owner", 0: "Guest", 1: "Member", 2: "Trusted", 3: "Moderator", 4: "Admin" };

let tokenPromise: Promise<string> | null = null;
let onNewToken: ((t: string) => Promise<void>) | null = null;

/** whenNewToken sets what runs when the server hands out a new token (the
 * stored one was missing or expired): the signed-in account links it before
 * any room request uses it. */
export function whenNewToken(f: (t: string) => Promise<void>) {
  onNewToken = f;
}

/** token grants (or re-validates) this browser's OTT token. */
export function token(): Promise<string> {
  if (!tokenPromise) {
    const stored = localStorage.getItem(TOKEN);
    tokenPromise = request<{ token: string }>("Getting a watch-room token", "/api/auth/grant", {
      headers: stored ? { Authorization: `Bearer ${stored}` } : {},
    })
      .then(async (r) => {
        localStorage.setItem(TOKEN, r.token);
        if (r.token !== stored && onNewToken) await onNewToken(r.token).catch(() => undefined);
        return r.token;
      })
      .catch((e) => {
        tokenPromise = null;
        throw e;
      });
  }
  return tokenPromise;
}

async function ott<T>(what: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const t = await token();
  try {
    return await request<T>(what, path, { ...opts, headers: { ...opts.headers, Authorization: `Bearer ${t}` } });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      localStorage.removeItem(TOKEN);
      tokenPromise = null;
    }
    throw e;
  }
}

const enc = encodeURIComponent;

export const ottApi = {
  list: () => ott<RoomListItem[]>("Loading watch rooms", "/api/room/list"),
  get: (name: string) => ott<RoomInfo>("Loading the room", `/api/room/${enc(name)}`),
  create: (name: string, title?: string, isTemporary = false, visibility?: "public" | "unlisted" | "private") =>
    ott<unknown>("Creating the room", "/api/room/create", {
      method: "POST",
      body: { name, ...(title ? { title } : {}), isTemporary, ...(visibility ? { visibility } : {}) },
    }),
  generate: () => ott<{ room: string }>("Creating a room", "/api/room/generate", { method: "POST", body: {} }),
  addUrl: (name: string, url: string) => ott<unknown>("Adding the video", `/api/room/${enc(name)}/queue`, { method: "POST", body: { url } }),
  add: (name: string, v: Video) => ott<unknown>("Adding the video", `/api/room/${enc(name)}/queue`, { method: "POST", body: { service: v.service, id: v.id } }),
  remove: (name: string, v: Video) =>
    ott<unknown>("Removing the video", `/api/room/${enc(name)}/queue`, { method: "DELETE", body: { service: v.service, id: v.id } }),
  vote: (name: string, v: Video, on: boolean) =>
    ott<unknown>(on ? "Voting" : "Removing your vote", `/api/room/${enc(name)}/vote`, { method: on ? "POST" : "DELETE", body: { service: v.service, id: v.id } }),
  settings: (name: string, s: Record<string, unknown>) => ott<unknown>("Saving room settings", `/api/room/${enc(name)}`, { method: "PATCH", body: s }),
  preview: (input: string) => ott<{ result: Video[] }>("Looking up videos", `/api/data/previewAdd?input=${enc(input)}`),
  setName: (username: string) => ott<unknown>("Setting your name", "/api/user", { method: "POST", body: { username } }),
  login: (user: string, password: string) => ott<unknown>("Signing in to watch rooms", "/api/user/login", { method: "POST", body: { user, password } }),
  logout: () => ott<unknown>("Signing out of watch rooms", "/api/user/logout", { method: "POST" }),
};

/** linkAccess signs a watch-room token (this browser's by default) in as the
 * account whose access token is given (Hearth's extension of OTT's login; OTT
 * keeps its own session). A 401 means the access token was refused. */
export async function linkAccess(access: string, t?: string) {
  const ottToken = t ?? (await token());
  await request<unknown>("Signing in to watch rooms", "/api/user/login", {
    method: "POST",
    body: { accessToken: access },
    headers: { Authorization: `Bearer ${ottToken}` },
  });
}

export async function unlinkAccount() {
  try {
    await ottApi.logout();
  } catch {
    /* not signed in there */
  }
}

export interface ChatLine {
  from: string;
  text: string;
  at: number;
}

/** RoomConnection is one open room: its state, kept current by the socket. */
export class RoomConnection {
  title = $state("");
  queue = $state<Video[]>([]);
  current = $state<Video | null>(null);
  queueMode = $state("manual");
  voteCounts = $state<Record<string, number>>({});
  users = $state<RoomUser[]>([]);
  me = $state<string | null>(null);
  chat = $state<ChatLine[]>([]);
  grants = $state<[number, number][]>([]);
  clock = $state<RoomClock>({ position: 0, playing: false, speed: 1, at: performance.now() });
  kicked = $state("");
  socket: ReconnectingSocket;

  constructor(public readonly name: string) {
    this.socket = new ReconnectingSocket({
      label: "the watch room",
      url: () => {
        const proto = location.protocol === "https:" ? "wss:" : "ws:";
        return `${proto}//${location.host}/api/room/${enc(name)}`;
      },
      onOpen: (ws) => {
        // Without a token the room sends nothing: close, and the next
        // attempt asks for one again.
        token().then(
          (t) => ws.send(JSON.stringify({ action: "auth", token: t })),
          (e: Error) => ws.close(1000, fitCloseReason(e.message)),
        );
      },
      onMessage: (d) => this.onMessage(d),
      onClose: (ev) => {
        // OTT: 4000+ are kicks (room gone, kicked, bad token): stop.
        if (ev.code >= 4000) {
          this.kicked = closeReason(ev.code, ev.reason);
          if (ev.code === 4004) {
            localStorage.removeItem(TOKEN);
            tokenPromise = null;
            return true;
          }
          return false;
        }
        return true;
      },
    });
  }

  start() {
    this.socket.start();
  }

  stop() {
    this.socket.stop();
  }

  req(request: Record<string, unknown>) {
    return this.socket.send({ action: "req", request });
  }

  play(on: boolean) {
    return this.req({ type: Req.Playback, state: on });
  }
  seek(value: number) {
    return this.req({ type: Req.Seek, value });
  }
  skip() {
    return this.req({ type: Req.Skip });
  }
  order(fromIdx: number, toIdx: number) {
    return this.req({ type: Req.Order, fromIdx, toIdx });
  }
  say(text: string) {
    return this.req({ type: Req.Chat, text });
  }
  promote(targetClientId: string, role: number) {
    return this.req({ type: Req.Promote, targetClientId, role });
  }
  kick(clientId: string) {
    return this.req({ type: Req.Kick, clientId });
  }
  status(status: "none" | "ready" | "buffering" | "error") {
    this.socket.send({ action: "status", status });
  }

  private onMessage(data: string) {
    let m: any;
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    switch (m.action) {
      case "sync":
        this.applySync(m);
        break;
      case "you":
        this.me = m.info?.id ?? null;
        break;
      case "user": {
        const u = m.update;
        if (u?.kind === "init") this.users = u.value ?? [];
        else if (u?.kind === "update") {
          const i = this.users.findIndex((x) => x.id === u.value.id);
          if (i >= 0) this.users[i] = { ...this.users[i], ...u.value };
          else this.users = [...this.users, u.value];
        } else if (u?.kind === "remove") this.users = this.users.filter((x) => x.id !== u.value);
        break;
      }
      case "chat":
        this.chat = [...this.chat.slice(-199), { from: m.from?.name ?? "someone", text: String(m.text ?? ""), at: Date.now() }];
        break;
      case "announcement":
      case "eventcustom":
        this.chat = [...this.chat.slice(-199), { from: "", text: String(m.text ?? ""), at: Date.now() }];
        break;
    }
  }

  private applySync(m: any) {
    if (typeof m.title === "string") this.title = m.title;
    if (Array.isArray(m.queue)) this.queue = m.queue;
    if (typeof m.queueMode === "string") this.queueMode = m.queueMode;
    if (Array.isArray(m.grants)) this.grants = m.grants;
    if (Array.isArray(m.voteCounts)) this.voteCounts = Object.fromEntries(m.voteCounts);
    if ("currentSource" in m) this.current = m.currentSource ?? null;
    if ("isPlaying" in m || "playbackPosition" in m || "playbackSpeed" in m || "currentSource" in m) {
      this.clock = applySync(this.clock, m, performance.now());
    }
  }
}

function closeReason(code: number, reason: string) {
  const known: Record<number, string> = {
    4001: "The room address is not valid.",
    4002: "This room does not exist.",
    4003: "The room was closed.",
    4004: "Your watch-room token expired; reconnecting with a new one.",
    4005: "You were kicked from the room.",
  };
  return reason || known[code] || `The room closed the connection (${code}).`;
}
