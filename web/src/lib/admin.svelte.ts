// Admin API access: the app's own session when it is an instance admin's
// (Owncast's /api/admin/* and Together's take its Bearer token); otherwise
// Owncast's /api/admin/* with Basic auth (user "admin" or the instance
// admin's username, and the admin password). The Basic
// credentials live in sessionStorage only (gone when the tab closes).
import { request, type RequestOptions } from "./http";
import { api, session, useTokens } from "./together.svelte";

const KEY = "hearth_admin_basic";

class AdminAuth {
  basic = $state<string | null>(sessionStorage.getItem(KEY));
  /** browser is true when the browser itself holds the admin's Basic
   * credentials (it asked for them when /admin/ was opened). */
  browser = $state(false);

  /** session is true when the app's own session is an instance admin's:
   * then every admin call goes with it, and no Basic sign-in is asked. */
  get session() {
    return !!session.signedIn && !!session.user?.is_admin;
  }

  get unlocked() {
    return this.basic !== null || this.browser || this.session;
  }

  set(user: string, pass: string) {
    const b = btoa(unescape(encodeURIComponent(`${user}:${pass}`)));
    this.basic = b;
    sessionStorage.setItem(KEY, b);
  }

  clear() {
    this.basic = null;
    this.browser = false;
    sessionStorage.removeItem(KEY);
  }
}

export const adminAuth = new AdminAuth();

export function oc<T>(what: string, path: string, opts: RequestOptions = {}): Promise<T> {
  // The app's session first: Owncast's admin routes take an admin's Bearer
  // token too (one sign-in, renewed like every other call).
  if (adminAuth.session) return api<T>(what, `/api/admin/${path}`, opts);
  if (adminAuth.basic) {
    return request<T>(what, `/api/admin/${path}`, { ...opts, headers: { ...opts.headers, Authorization: `Basic ${adminAuth.basic}` } });
  }
  // Let the browser answer the Basic challenge with what it already holds.
  return request<T>(what, `/api/admin/${path}`, { ...opts, credentials: "include" });
}

/** probeBrowserAuth checks whether the browser's own Basic credentials
 * (from opening /admin/) open the admin API; it gives up after a while so a
 * pending browser prompt cannot hang the page. */
export async function probeBrowserAuth(): Promise<boolean> {
  if (adminAuth.basic) return true;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 30000);
  try {
    await request("Checking admin access", "/api/admin/status", { credentials: "include", signal: ctl.signal });
    adminAuth.browser = true;
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function ocSet(what: string, name: string, value: unknown) {
  return oc<{ success: boolean; message: string }>(what, `config/${name}`, { method: "POST", body: { value } });
}

export function tg<T>(what: string, path: string, opts: RequestOptions = {}): Promise<T> {
  return api<T>(what, `/api/admin/${path}`, opts);
}

/** adoptAdminSession turns the admin's Basic sign-in (the browser's prompt
 * or the form) into the app's own session for the same account, so the
 * parts that run on the app's session (Users, Recordings) need no second
 * sign-in. */
export async function adoptAdminSession(): Promise<void> {
  if (session.signedIn) return;
  const auth: RequestOptions = adminAuth.basic ? { headers: { Authorization: `Basic ${adminAuth.basic}` } } : { credentials: "include" };
  const t = await request<{ access_token: string; refresh_token: string }>("Opening your admin session", "/api/admin/session", { method: "POST", ...auth });
  await useTokens(t.access_token, t.refresh_token);
}
