// Together's gateway: /ws?token=<access JWT>, envelope {op, t, d}. The server
// sends READY first; we HEARTBEAT every 30 s. On any drop we reconnect with
// backoff, taking a fresh access token (refreshing it when it has expired),
// and listeners refetch what they show (the gateway has no resume).
import { ReconnectingSocket } from "./socket.svelte";
import { session, api, type User } from "./together.svelte";

export interface Envelope {
  op: string;
  t?: string | null;
  d?: unknown;
}

type Listener = (d: any) => void;

class Gateway {
  unread = $state<Record<string, number>>({});
  mentions = $state<Record<string, number>>({});
  presence = $state<Record<string, string>>({});
  /** Direct-message conversations with unread messages (counts). */
  dmUnread = $state<Record<string, number>>({});
  /** readyCount increases on every READY: pages refetch when it changes. */
  readyCount = $state(0);
  /** opens counts the sockets opened: what was sent on one socket is
   * answered on it or never. */
  opens = 0;
  socket: ReconnectingSocket | null = null;
  private listeners = new Map<string, Set<Listener>>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  start() {
    if (this.socket) return;
    this.socket = new ReconnectingSocket({
      label: "chat",
      url: async (signal) => {
        // Make sure the token is good before the upgrade (401 is not
        // visible to a WebSocket): a cheap authenticated call refreshes it.
        await api<User>("Checking your session", "/users/@me", { signal }).then((u) => (session.user = u));
        if (!session.access) throw new Error("signed out");
        const proto = location.protocol === "https:" ? "wss:" : "ws:";
        return `${proto}//${location.host}/ws?token=${encodeURIComponent(session.access)}`;
      },
      onOpen: (ws) => {
        this.opens++;
        if (this.heartbeat) clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => {
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: "HEARTBEAT", t: null, d: null }));
        }, 30_000);
      },
      onMessage: (data) => {
        let env: Envelope;
        try {
          env = JSON.parse(data);
        } catch {
          return;
        }
        if (env.op !== "DISPATCH" || !env.t) return;
        this.dispatch(env.t, env.d);
      },
      onClose: () => {
        if (this.heartbeat) clearInterval(this.heartbeat);
        this.heartbeat = null;
        return session.access !== null;
      },
    });
    this.socket.start();
  }

  stop() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.socket?.stop();
    this.socket = null;
  }

  on(t: string, fn: Listener): () => void {
    let set = this.listeners.get(t);
    if (!set) this.listeners.set(t, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  send(op: string, d: unknown) {
    return this.socket?.send({ op, t: null, d }) ?? false;
  }

  typing(channel_id: string) {
    this.send("TYPING_START", { channel_id });
  }

  markRead(channel_id: string) {
    if (this.unread[channel_id]) this.unread[channel_id] = 0;
    if (this.dmUnread[channel_id]) delete this.dmUnread[channel_id];
    if (this.mentions[channel_id]) this.mentions[channel_id] = 0;
  }

  private dispatch(t: string, d: any) {
    switch (t) {
      case "READY": {
        const u: Record<string, number> = {};
        for (const x of d?.unread_counts ?? []) u[x.channel_id] = x.unread_count;
        this.unread = u;
        const m: Record<string, number> = {};
        for (const x of d?.mention_counts ?? []) m[x.channel_id] = x.count;
        this.mentions = m;
        const dm: Record<string, number> = {};
        for (const c of d?.dm_channels ?? []) if (u[c.id]) dm[c.id] = u[c.id];
        this.dmUnread = dm;
        if (d?.user) session.user = d.user;
        // Our own presence: the server marks us online as this socket
        // opens, before READY, so its PRESENCE_UPDATE never reaches this
        // socket; a member list read before that showed us offline.
        if (d?.user?.id && d.user.status) this.presence[d.user.id] = d.user.status;
        this.readyCount++;
        break;
      }
      case "PRESENCE_UPDATE":
        if (d?.user_id) this.presence[d.user_id] = d.status;
        break;
      case "MESSAGE_CREATE":
        if (d?.channel_id && d.author_id !== session.user?.id) {
          this.unread[d.channel_id] = (this.unread[d.channel_id] ?? 0) + 1;
          if (d.mention_everyone || (session.user && d.mention_user_ids?.includes(session.user.id))) {
            this.mentions[d.channel_id] = (this.mentions[d.channel_id] ?? 0) + 1;
          }
        }
        break;
      case "DM_MESSAGE_CREATE":
        if (d?.channel_id && d.author_id !== session.user?.id) {
          this.unread[d.channel_id] = (this.unread[d.channel_id] ?? 0) + 1;
          this.dmUnread[d.channel_id] = (this.dmUnread[d.channel_id] ?? 0) + 1;
        }
        break;
    }
    for (const fn of this.listeners.get(t) ?? []) {
      try {
        fn(d);
      } catch (e) {
        console.error(`gateway ${t} listener`, e);
      }
    }
  }
}

export const gateway = new Gateway();
