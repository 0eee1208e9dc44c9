// Owncast's public API: /api/status, /api/config, /api/emoji, the chat
// (/api/chat/register → accessToken; /ws?accessToken= with newline-batched
// frames) and the moderator routes. The stage player reads /hls/stream.m3u8.
import { owncastChatKey } from "./chatkey";
import { ApiError, request } from "./http";
import type { ScheduleConfig, ScheduledEvent } from "./schedule";
import { ReconnectingSocket } from "./socket.svelte";
import { api, session } from "./together.svelte";

/** chatKey is where this browser keeps its chat registration now: the
 * signed-in account's, else the guest's. */
function chatKey(): string {
  return owncastChatKey(session.signedIn ? session.user?.id : undefined);
}

export interface Status {
  online: boolean;
  viewerCount?: number;
  streamTitle?: string;
  lastConnectTime?: string | null;
  lastDisconnectTime?: string | null;
  serverTime?: string;
  /** Owncast 0.2: the scheduled event in progress or next (absent when none). */
  scheduledEvent?: ScheduledEvent;
}

export interface ExternalAction {
  url?: string;
  html?: string;
  title: string;
  description?: string;
  icon?: string;
  color?: string;
  openExternally?: boolean;
}

export interface SocialHandle {
  platform: string;
  url: string;
}

export interface WebConfig {
  name: string;
  summary: string;
  offlineMessage: string;
  /** The admin's page content (config/pagecontent), rendered to HTML by the server. */
  extraPageContent?: string;
  tags?: string[];
  socialHandles?: SocialHandle[];
  logo?: string;
  streamTitle?: string;
  externalActions?: ExternalAction[];
  chatDisabled?: boolean;
  hideViewerCount?: boolean;
  maxSocketPayloadSize?: number;
  /** Owncast 0.2's autoplay setting (absent from 0.1.3 servers). */
  autoplay?: "off" | "always" | "sound-only";
  /** Owncast 0.2's scheduled streams (absent from 0.1.3 servers). */
  schedule?: ScheduleConfig;
}

export interface ChatUser {
  id: string;
  displayName: string;
  displayColor: number;
  scopes?: string[];
  isBot?: boolean;
  authenticated?: boolean;
}

export interface ChatEvent {
  id: string;
  type: string;
  timestamp: string;
  body?: string;
  user?: ChatUser;
  visible?: boolean;
  oldName?: string;
  // FEDIVERSE_ENGAGEMENT_* events: the remote account's avatar, actor id
  // and user@host.
  image?: string;
  link?: string;
  title?: string;
}

export interface Emoji {
  name: string;
  url: string;
}

interface Registration {
  id: string;
  accessToken: string;
  displayName: string;
}

export const owncast = {
  status: () => request<Status>("Loading the stream status", "/api/status"),
  config: () => request<WebConfig>("Loading the stage settings", "/api/config"),
  emoji: () => request<Emoji[]>("Loading emoji", "/api/emoji"),
  featured: () => request<{ servers: FeaturedServer[] }>("Loading featured streams", "/api/federation/servers"),
};

/** FeaturedServer is a server this one follows on the fediverse (Owncast
 * 0.2's featured streams), with its latest post. */
export interface FeaturedServer {
  id: string;
  iri: string;
  name: string;
  username: string;
  logoUrl: string;
  isOnline: boolean;
  streamTitle: string;
  url: string;
  previewUrl: string;
  lastLiveAt: string | null;
}

function stored(): Registration | null {
  try {
    return JSON.parse(localStorage.getItem(chatKey()) ?? "null");
  } catch {
    return null;
  }
}

/** chatName is the stage-chat name this browser registered with. */
export function chatName(): string | null {
  return stored()?.displayName ?? null;
}

/** actionURL is an external action's URL with what Owncast appends: the
 * page it was opened from and the viewer's chat name; null unless it is an
 * http(s) URL (the page opens it with window.open, where a javascript: or
 * data: URL would run as this origin: the server refuses such actions, and
 * the page does not rely on that). */
export function actionURL(action: ExternalAction): string | null {
  if (!action.url) return null;
  try {
    const u = new URL(action.url, location.origin);
    if (u.protocol !== "https:" && u.protocol !== "http:") return null;
    u.searchParams.append("instance", location.href);
    const name = chatName();
    if (name) u.searchParams.append("username", name);
    return u.toString();
  } catch {
    return null;
  }
}

/** socialURL is a social handle's link, null unless it is an http(s) URL
 * (the server accepts no other; the page does not rely on that). */
export function socialURL(h: SocialHandle): string | null {
  try {
    const u = new URL(h.url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.toString() : null;
  } catch {
    return null;
  }
}

/** registerChat joins the stage chat: a signed-in user as their account
 * (the access token goes along, and the server names the chat user as the
 * account is named), anyone else as a guest. */
export async function registerChat(force = false): Promise<Registration> {
  const key = chatKey();
  const have = stored();
  if (have && !force) return have;
  const r = session.signedIn
    ? await api<Registration>("Joining the chat", "/api/chat/register", { method: "POST", body: {} })
    : await request<Registration>("Joining the chat", "/api/chat/register", { method: "POST", body: {} });
  try {
    localStorage.setItem(key, JSON.stringify(r));
  } catch {
    /* private mode: registered for this page only */
  }
  return r;
}

export class StageChat {
  messages = $state<ChatEvent[]>([]);
  me = $state<ChatUser | null>(null);
  error = $state<unknown>(null);
  disabled = $state("");
  socket: ReconnectingSocket;
  private reg: Registration | null = null;

  constructor() {
    this.socket = new ReconnectingSocket({
      label: "the stage chat",
      url: async () => {
        // A reconnect reads the history first: what was said while the
        // socket was down, and a token the server forgot is replaced.
        if (this.socket.attempt > 0) await this.history();
        this.reg = await registerChat();
        const proto = location.protocol === "https:" ? "wss:" : "ws:";
        return `${proto}//${location.host}/ws?accessToken=${encodeURIComponent(this.reg.accessToken)}`;
      },
      onMessage: (data) => {
        // Owncast batches events into one frame, one JSON per line.
        for (const line of data.split("\n")) {
          if (!line.trim()) continue;
          try {
            this.onEvent(JSON.parse(line));
          } catch {
            /* skip a bad line, keep the rest */
          }
        }
      },
      onClose: () => !this.disabled,
    });
  }

  get moderator() {
    return !!this.me?.scopes?.includes("MODERATOR");
  }

  async start() {
    try {
      this.reg = await registerChat();
      await this.history();
    } catch (e) {
      this.error = e;
    }
    this.socket.start();
  }

  stop() {
    this.socket.stop();
  }

  async history() {
    if (!this.reg) return;
    try {
      const list = await request<ChatEvent[]>("Loading chat history", `/api/chat?accessToken=${encodeURIComponent(this.reg.accessToken)}`);
      // Lines older than the history's first stay (the history holds the
      // latest only); the rest is the server's, so what was hidden or sent
      // meanwhile shows as it is now.
      const ids = new Set(list.map((m) => m.id));
      const first = list.length ? Date.parse(list[0].timestamp) : NaN;
      this.messages = [...this.messages.filter((m) => !ids.has(m.id) && Date.parse(m.timestamp) < first), ...list];
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        // The server forgot us (or we were banned): register again.
        this.reg = await registerChat(true);
      } else throw e;
    }
  }

  send(body: string) {
    return this.socket.send({ type: "CHAT", body });
  }

  rename(newName: string) {
    return this.socket.send({ type: "NAME_CHANGE", newName });
  }

  /** recolor is Owncast's COLOR_CHANGE (0–7): saved, and answered with a
   * fresh CONNECTED_USER_INFO to this socket only; later messages carry it. */
  recolor(newColor: number) {
    return this.socket.send({ type: "COLOR_CHANGE", newColor });
  }

  async hide(ids: string[]) {
    await this.modPost("Hiding the message", "/api/chat/messagevisibility", { idArray: ids, visible: false });
  }

  async ban(userId: string) {
    await this.modPost("Removing the user from chat", "/api/chat/users/setenabled", { userId, enabled: false });
  }

  private async modPost(what: string, path: string, body: unknown) {
    if (!this.reg) throw new Error("not registered in chat");
    await request(what, `${path}?accessToken=${encodeURIComponent(this.reg.accessToken)}`, { method: "POST", body });
  }

  private onEvent(ev: ChatEvent) {
    switch (ev.type) {
      case "CONNECTED_USER_INFO":
        this.me = ev.user ?? null;
        return;
      case "ERROR_NEEDS_REGISTRATION":
        // This browser's registration is dead (for a signed-in account: a
        // password change or a sign-out of its session): the reconnect
        // registers again. The key is this account's, not the guests'.
        localStorage.removeItem(chatKey());
        this.reg = null;
        return;
      case "ERROR_USER_DISABLED":
        this.disabled = "You have been removed from this chat.";
        return;
      case "VISIBILITY-UPDATE": {
        const ids = new Set((ev as unknown as { ids: string[] }).ids ?? []);
        this.messages = this.messages.filter((m) => !ids.has(m.id));
        return;
      }
      case "CHAT":
      case "SYSTEM":
      case "CHAT_ACTION":
      case "NAME_CHANGE":
      case "USER_JOINED":
        if (ev.id && this.messages.some((m) => m.id === ev.id)) return;
        this.messages = [...this.messages.slice(-299), ev];
    }
  }
}
