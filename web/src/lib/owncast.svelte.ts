// Owncast's public API: /api/status, /api/config, /api/emoji, the chat
// (/api/chat/register → accessToken; /ws?accessToken= with newline-batched
// frames) and the moderator routes. The stage player reads /hls/stream.m3u8.
import { ApiError, request } from "./http";
import type { ScheduleConfig, ScheduledEvent } from "./schedule";
import { ReconnectingSocket } from "./socket.svelte";

const CHAT = "owncast_chat";

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

export interface WebConfig {
  name: string;
  summary: string;
  offlineMessage: string;
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
};

function stored(): Registration | null {
  try {
    return JSON.parse(localStorage.getItem(CHAT) ?? "null");
  } catch {
    return null;
  }
}

/** chatName is the stage-chat name this browser registered with. */
export function chatName(): string | null {
  return stored()?.displayName ?? null;
}

/** actionURL is an external action's URL with what Owncast appends: the
 * page it was opened from and the viewer's chat name. */
export function actionURL(action: ExternalAction): string | null {
  if (!action.url) return null;
  try {
    const u = new URL(action.url, location.origin);
    u.searchParams.append("instance", location.href);
    const name = chatName();
    if (name) u.searchParams.append("username", name);
    return u.toString();
  } catch {
    return null;
  }
}

export async function registerChat(displayName?: string, force = false): Promise<Registration> {
  const have = stored();
  if (have && !force) return have;
  const r = await request<Registration>("Joining the chat", "/api/chat/register", { method: "POST", body: displayName ? { displayName } : {} });
  localStorage.setItem(CHAT, JSON.stringify(r));
  return r;
}

export class StageChat {
  messages = $state<ChatEvent[]>([]);
  me = $state<ChatUser | null>(null);
  error = $state<unknown>(null);
  disabled = $state("");
  socket: ReconnectingSocket;
  private reg: Registration | null = null;

  constructor(private readonly displayName?: string) {
    this.socket = new ReconnectingSocket({
      label: "the stage chat",
      url: async () => {
        this.reg = await registerChat(this.displayName);
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
      this.reg = await registerChat(this.displayName);
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
      this.messages = list;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        // The server forgot us (or we were banned): register again.
        this.reg = await registerChat(this.displayName, true);
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
        localStorage.removeItem(CHAT);
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
