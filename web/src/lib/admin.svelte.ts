// Admin API access: Owncast's /api/admin/* with Basic auth (user "admin" or
// the instance admin's username, and the admin password), and Together's
// instance admin routes with the signed-in admin's Bearer token. The Basic
// credentials live in sessionStorage only (gone when the tab closes).
import { request, type RequestOptions } from "./http";
import { api } from "./together.svelte";

const KEY = "hearth_admin_basic";

class AdminAuth {
  basic = $state<string | null>(sessionStorage.getItem(KEY));

  set(user: string, pass: string) {
    const b = btoa(unescape(encodeURIComponent(`${user}:${pass}`)));
    this.basic = b;
    sessionStorage.setItem(KEY, b);
  }

  clear() {
    this.basic = null;
    sessionStorage.removeItem(KEY);
  }
}

export const adminAuth = new AdminAuth();

export function oc<T>(what: string, path: string, opts: RequestOptions = {}): Promise<T> {
  return request<T>(what, `/api/admin/${path}`, { ...opts, headers: { ...opts.headers, Authorization: `Basic ${adminAuth.basic ?? ""}` } });
}

export function ocSet(what: string, name: string, value: unknown) {
  return oc<{ success: boolean; message: string }>(what, `config/${name}`, { method: "POST", body: { value } });
}

export function tg<T>(what: string, path: string, opts: RequestOptions = {}): Promise<T> {
  return api<T>(what, `/api/admin/${path}`, opts);
}
