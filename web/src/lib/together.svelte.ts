// Together's REST API (the same one Together's own clients use): accounts,
// servers (communities), channels, messages. Tokens live in localStorage
// under Together's own keys; any 401 triggers one /auth/refresh (rotating
// the refresh token) and a retry; a 401 from refresh signs the user out.
import { owncastChatKey } from "./chatkey";
import { ApiError, request, type RequestOptions } from "./http";
import { linkAccess, token as ottToken, unlinkAccount, whenNewToken } from "./ott.svelte";
import { refreshShared, tabLock } from "./refresh";

const ACCESS = "together_access_token";
const REFRESH = "together_refresh_token";

export interface User {
  id: string;
  username: string;
  email: string | null;
  avatar_url: string | null;
  bio: string | null;
  pronouns: string | null;
  status: string;
  custom_status: string | null;
  activity: string | null;
  created_at: string;
  is_admin: boolean;
}

export interface Server {
  id: string;
  name: string;
  owner_id: string;
  icon_url: string | null;
  is_public: boolean;
  require_invite?: boolean;
  member_count?: number;
  created_at: string;
}

export type ChannelKind = "text" | "voice" | "watch" | "stage";

export interface Channel {
  id: string;
  server_id: string;
  name: string;
  type: ChannelKind | string;
  position: number;
  category: string | null;
  topic: string | null;
  created_at: string;
}

export interface Message {
  id: string;
  channel_id: string;
  author_id: string | null;
  content: string;
  reply_to: string | null;
  mention_user_ids: string[];
  mention_everyone: boolean;
  thread_id: string | null;
  thread_reply_count: number;
  edited_at: string | null;
  deleted: boolean;
  created_at: string;
  pinned?: boolean;
  // Hearth's extension on a fediverse engagement notice (author_id null).
  fediverse?: { type: string; image: string; link: string; title: string };
}

export interface Member {
  user_id: string;
  username: string;
  avatar_url: string | null;
  status: string;
  custom_status: string | null;
  nickname: string | null;
  joined_at: string;
  roles?: { id: string; name: string; color: string | null; position: number }[];
}

export interface Reaction {
  emoji: string;
  count: number;
  me: boolean;
}

export interface Role {
  id: string;
  server_id: string;
  name: string;
  permissions: number;
  color: string | null;
  position: number;
}

/** Together's permission bits that the app acts on. */
export const PERM_MANAGE_MESSAGES = 4;
export const PERM_MANAGE_CHANNELS = 1024;
export const PERM_ADMINISTRATOR = 8192;

export interface Attachment {
  id: string;
  message_id: string;
  filename: string;
  file_size: number;
  mime_type: string;
  /** A signed, time-limited URL a plain <img>/<a> can load. */
  url: string;
  width: number | null;
  height: number | null;
  created_at: string;
}

export interface DMChannel {
  id: string;
  recipient: User;
  created_at: string;
  last_message_at: string | null;
}

export interface DMMessage {
  id: string;
  channel_id: string;
  author_id: string | null;
  content: string;
  edited_at: string | null;
  created_at: string;
}

export interface Invite {
  id: string;
  server_id: string;
  code: string;
  max_uses: number | null;
  uses: number;
  expires_at: string | null;
}

export interface InvitePreview {
  code: string;
  server_name: string;
  server_icon_url: string | null;
  member_count: number;
  expires_at: string | null;
}

export interface SearchResult {
  id: string;
  channel_id: string;
  author_id: string | null;
  author_username: string | null;
  content: string;
  highlight: string;
  created_at: string;
}

interface AuthResponse {
  access_token: string;
  refresh_token: string;
  user: User;
}

function load(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function save(key: string, v: string | null) {
  try {
    if (v === null) localStorage.removeItem(key);
    else localStorage.setItem(key, v);
  } catch {
    /* private mode: tokens last for this page only */
  }
}

// The admin pages (/admin/*) are loaded by the browser itself, which sends
// no Bearer token: the session's access token also goes into a cookie that
// only /admin paths receive, so an admin signed in here opens them with no
// Basic prompt. The server takes it there for a live admin session only.
const ADMIN_COOKIE = "hearth_admin";
function adminCookie(token: string | null) {
  try {
    const secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `${ADMIN_COOKIE}=${token ?? ""}; Path=/admin; Max-Age=${token ? 30 * 86400 : 0}; SameSite=Strict${secure}`;
  } catch {
    /* no document (tests) */
  }
}

class Session {
  access = $state<string | null>(load(ACCESS));
  refresh = $state<string | null>(load(REFRESH));
  user = $state<User | null>(null);
  /** ready is true once we know whether a stored session is valid. */
  ready = $state(false);
  private refreshing: Promise<boolean> | null = null;

  get signedIn() {
    return this.access !== null && this.user !== null;
  }

  setTokens(r: AuthResponse) {
    this.access = r.access_token;
    this.refresh = r.refresh_token;
    this.user = r.user;
    save(ACCESS, r.access_token);
    save(REFRESH, r.refresh_token);
    adminCookie(r.access_token);
  }

  clear() {
    this.access = null;
    this.refresh = null;
    this.user = null;
    save(ACCESS, null);
    save(REFRESH, null);
    adminCookie(null);
  }

  /**
   * refreshTokens rotates the refresh token once, sharing one in-flight call
   * in this tab and, through refreshShared, one rotation between tabs.
   */
  refreshTokens(): Promise<boolean> {
    if (!this.refresh) return Promise.resolve(false);
    if (!this.refreshing) {
      const rt = this.refresh;
      this.refreshing = refreshShared(rt, {
        lock: (f) => tabLock("hearth-refresh", f),
        stored: () => {
          const access = load(ACCESS);
          const refresh = load(REFRESH);
          return access && refresh ? { access, refresh } : null;
        },
        rotate: async (token) => {
          const r = await request<AuthResponse>("Renewing your session", "/auth/refresh", { method: "POST", body: { refresh_token: token } });
          this.setTokens(r);
          return { access: r.access_token, refresh: r.refresh_token };
        },
      })
        .then((p) => {
          this.access = p.access;
          this.refresh = p.refresh;
          return true;
        })
        .catch((e: unknown) => {
          if (e instanceof ApiError && (e.status === 401 || e.status === 403)) this.clear();
          return false;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  /** adopt takes the tokens another tab stored (a rotation, a sign-out). */
  adopt() {
    const access = load(ACCESS);
    const refresh = load(REFRESH);
    if (access === this.access && refresh === this.refresh) return;
    if (!refresh) {
      this.clear();
      return;
    }
    this.access = access;
    this.refresh = refresh;
  }
}

export const session = new Session();

// Another tab rotated the tokens or signed out: follow it.
if (typeof window !== "undefined") {
  window.addEventListener("storage", (e) => {
    if (e.key === ACCESS || e.key === REFRESH || e.key === null) session.adopt();
  });
}

/** api calls a Together route with the access token, refreshing once on 401. */
export async function api<T>(what: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const call = () =>
    request<T>(what, path, { ...opts, headers: { ...opts.headers, ...(session.access ? { Authorization: `Bearer ${session.access}` } : {}) } });
  try {
    return await call();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && session.refresh) {
      if (await session.refreshTokens()) return call();
    }
    throw e;
  }
}

/** linked is the watch-room token last linked to the signed-in account;
 * linking is the link in flight. */
let linked: string | null = null;
let linking: Promise<void> | null = null;

/**
 * watchRoomsLinked waits for the watch-room token's link to the signed-in
 * account, starting it again when no link holds (one that failed on a
 * slow moment is retried): a page that finds a community's watch room
 * missing asks it before deciding the room is not there.
 */
export async function watchRoomsLinked() {
  if (linking) await linking;
  if (session.access && linked !== (await ottToken())) await linkWatchRooms();
}

/**
 * linkWatchRooms signs this browser's watch-room token in as the signed-in
 * account with its access token, on every way of becoming signed in (the
 * form, sign-up, tokens restored from storage) and whenever the watch-room
 * token is replaced: a community's watch room is hidden from a guest. An
 * expired access token is refreshed once; other failures leave the guest.
 */
function linkWatchRooms(t?: string): Promise<void> {
  const p = linkOnce(t).finally(() => {
    if (linking === p) linking = null;
  });
  linking = p;
  return p;
}

async function linkOnce(t?: string) {
  if (!session.access) return;
  try {
    const ott = t ?? (await ottToken());
    if (linked === ott) return;
    try {
      await linkAccess(session.access, ott);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401 && (await session.refreshTokens()) && session.access)) throw e;
      await linkAccess(session.access, ott);
    }
    linked = ott;
  } catch {
    /* watch rooms still work as a guest */
  }
}

whenNewToken((t) => linkWatchRooms(t));

export async function restoreSession() {
  try {
    if (session.access || session.refresh) {
      session.user = await api<User>("Loading your account", "/users/@me");
      adminCookie(session.access); // (a session stored before the cookie existed)
      await linkWatchRooms();
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) session.clear();
    else throw e;
  } finally {
    session.ready = true;
  }
}

export async function register(username: string, password: string, email?: string, invite_code?: string) {
  const body: Record<string, string> = { username, password };
  if (email) body.email = email;
  if (invite_code) body.invite_code = invite_code;
  session.setTokens(await request<AuthResponse>("Creating your account", "/auth/register", { method: "POST", body }));
  linked = null;
  await linkWatchRooms();
}

export async function login(username: string, password: string) {
  session.setTokens(await request<AuthResponse>("Signing in", "/auth/login", { method: "POST", body: { username, password } }));
  linked = null;
  await linkWatchRooms();
}

/** useTokens makes a pair the server handed out another way (the admin's
 * Basic sign-in, exchanged) this app's session. */
export async function useTokens(access_token: string, refresh_token: string) {
  session.setTokens({ access_token, refresh_token, user: null as unknown as User });
  session.user = await api<User>("Loading your account", "/users/@me");
}

/** changePassword changes the signed-in account's password; the server
 * signs out every session and answers a fresh one for this tab. */
export async function changePassword(current_password: string, new_password: string) {
  session.setTokens(await api<AuthResponse>("Changing your password", "/auth/change-password", { method: "POST", body: { current_password, new_password } }));
}

/** logout ends the session on the server (its refresh token stops
 * working), then forgets it here. An access token past its lifetime (15
 * minutes idle) is renewed first, as for any call: sent as it was, the
 * server refused it (401) and the refresh token, forgotten here, stayed
 * good on the server for days. */
export async function logout() {
  const id = session.user?.id;
  let ended = false;
  if (session.access || session.refresh) {
    ended = await api("Signing out", "/auth/logout", { method: "POST" }).then(
      () => true,
      () => false,
    );
  }
  // The stage chat registration this session took (lib/owncast): the
  // server deleted its token with the session.
  if (id) localStorage.removeItem(owncastChatKey(id));
  session.clear();
  linked = null;
  // Ending the session also signed out the watch-room token linked to it
  // (an OTT logout then answers 400 "Not logged in."); only a sign-out
  // that did not reach the server signs it out here.
  if (!ended) await unlinkAccount();
}

export const together = {
  me: () => api<User>("Loading your profile", "/users/@me"),
  updateMe: (patch: Partial<Pick<User, "avatar_url" | "bio" | "pronouns" | "status" | "custom_status" | "activity">>) =>
    api<User>("Saving your profile", "/users/@me", { method: "PATCH", body: patch }),
  servers: () => api<Server[]>("Loading your communities", "/servers"),
  browse: () => api<Server[]>("Loading public communities", "/servers/browse"),
  server: (id: string) => api<Server>("Loading the community", `/servers/${enc(id)}`),
  createServer: (name: string, is_public: boolean) => api<Server>("Creating the community", "/servers", { method: "POST", body: { name, is_public } }),
  joinServer: (id: string) => api<unknown>("Joining the community", `/servers/${enc(id)}/join`, { method: "POST" }),
  leaveServer: (id: string) => api<unknown>("Leaving the community", `/servers/${enc(id)}/leave`, { method: "DELETE" }),
  channels: (sid: string) => api<Channel[]>("Loading channels", `/servers/${enc(sid)}/channels`),
  createChannel: (sid: string, name: string, type: ChannelKind, topic?: string) =>
    api<Channel>("Creating the channel", `/servers/${enc(sid)}/channels`, { method: "POST", body: { name, type, ...(topic ? { topic } : {}) } }),
  roles: (sid: string) => api<Role[]>("Loading roles", `/servers/${enc(sid)}/roles`),
  members: (sid: string) => api<Member[]>("Loading members", `/servers/${enc(sid)}/members`),
  messages: (cid: string, before?: string, limit = 50) =>
    api<Message[]>("Loading messages", `/channels/${enc(cid)}/messages?limit=${limit}${before ? `&before=${enc(before)}` : ""}`),
  send: (cid: string, content: string, reply_to?: string | null) =>
    api<Message>("Sending the message", `/channels/${enc(cid)}/messages`, { method: "POST", body: { content, ...(reply_to ? { reply_to } : {}) } }),
  edit: (mid: string, content: string) => api<Message>("Editing the message", `/messages/${enc(mid)}`, { method: "PATCH", body: { content } }),
  remove: (mid: string) => api<unknown>("Deleting the message", `/messages/${enc(mid)}`, { method: "DELETE" }),
  reactions: (cid: string, mid: string) => api<Reaction[]>("Loading reactions", `/channels/${enc(cid)}/messages/${enc(mid)}/reactions`),
  react: (cid: string, mid: string, emoji: string, on: boolean) =>
    api<unknown>(on ? "Adding the reaction" : "Removing the reaction", `/channels/${enc(cid)}/messages/${enc(mid)}/reactions/${enc(emoji)}`, {
      method: on ? "PUT" : "DELETE",
    }),
  // A thread lists from its first reply, 100 at a time, and `before` pages
  // forward (Together's cursor): read page after page, up to 5,000 replies.
  thread: async (cid: string, mid: string) => {
    const out: Message[] = [];
    for (let page = 0; page < 50; page++) {
      const from = out.length ? `&before=${enc(out[out.length - 1].id)}` : "";
      const got = await api<Message[]>("Loading the thread", `/channels/${enc(cid)}/messages/${enc(mid)}/thread?limit=100${from}`);
      out.push(...got);
      if (got.length < 100) break;
    }
    return out;
  },
  replyInThread: (cid: string, mid: string, content: string) =>
    api<Message>("Replying in the thread", `/channels/${enc(cid)}/messages/${enc(mid)}/thread`, { method: "POST", body: { content } }),
  pinned: (cid: string) => api<Message[]>("Loading pinned messages", `/channels/${enc(cid)}/pinned-messages`),
  pin: (cid: string, mid: string, on: boolean) =>
    api<unknown>(on ? "Pinning the message" : "Unpinning the message", `/channels/${enc(cid)}/messages/${enc(mid)}/pin`, { method: on ? "POST" : "DELETE" }),
  attachments: (mid: string) => api<Attachment[]>("Loading attachments", `/messages/${enc(mid)}/attachments`),
  upload: (mid: string, files: File[]) => {
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    return api<Attachment[]>("Uploading the files", `/messages/${enc(mid)}/attachments`, { method: "POST", form });
  },
  dms: () => api<DMChannel[]>("Loading your direct messages", "/dm-channels"),
  openDM: (user_id: string) => api<DMChannel>("Opening the conversation", "/dm-channels", { method: "POST", body: { user_id } }),
  dmMessages: (id: string, before?: string, limit = 50) =>
    api<DMMessage[]>("Loading messages", `/dm-channels/${enc(id)}/messages?limit=${limit}${before ? `&before=${enc(before)}` : ""}`),
  sendDM: (id: string, content: string) => api<DMMessage>("Sending the message", `/dm-channels/${enc(id)}/messages`, { method: "POST", body: { content } }),
  ackDM: (id: string) => api<unknown>("Marking the conversation read", `/dm-channels/${enc(id)}/ack`, { method: "POST" }),
  ack: (cid: string) => api<unknown>("Marking the channel read", `/channels/${enc(cid)}/ack`, { method: "POST" }),
  search: (sid: string, q: string, channel_id?: string) =>
    api<{ results: SearchResult[]; total: number; has_more: boolean }>(
      "Searching",
      `/servers/${enc(sid)}/search?q=${enc(q)}${channel_id ? `&channel_id=${enc(channel_id)}` : ""}`,
    ),
  createInvite: (sid: string) => api<Invite>("Creating an invite", `/servers/${enc(sid)}/invites`, { method: "POST", body: {} }),
  invite: (code: string) => api<InvitePreview>("Loading the invite", `/invites/${enc(code)}`),
  acceptInvite: (code: string) => api<{ server_id: string }>("Accepting the invite", `/invites/${enc(code)}/accept`, { method: "POST" }),
  registrationMode: () => request<{ registration_mode: string }>("Loading sign-up settings", "/instance/registration-mode"),
};

function enc(s: string) {
  return encodeURIComponent(s);
}
