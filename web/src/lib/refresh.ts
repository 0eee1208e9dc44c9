// One refresh between tabs. Every tab of the app shares the tokens in
// localStorage; when two tabs find their access token expired at once, both
// would present the same refresh token, and the second presentation is
// "reuse" to the server. So the refresh runs under a lock shared by the tabs
// (navigator.locks where the browser has it), and inside the lock a tab
// first looks whether another tab has already rotated the token: if so it
// takes the stored pair instead of calling the server. (The server also
// gives a repeat within 10 s of a rotation the same pair, for browsers
// without locks and for retries.)

export interface Pair {
  access: string;
  refresh: string;
}

export interface SharedRefresh {
  /** lock runs f while holding the tabs' refresh lock. */
  lock<T>(f: () => Promise<T>): Promise<T>;
  /** stored reads the pair every tab sees now (localStorage). */
  stored(): Pair | null;
  /** rotate calls the server with a refresh token; it stores the new pair. */
  rotate(refresh: string): Promise<Pair>;
}

/**
 * refreshShared renews the pair this tab holds (mine). It returns the pair
 * to use, which another tab may have rotated already, or throws what
 * rotate threw.
 */
export async function refreshShared(mine: string, io: SharedRefresh): Promise<Pair> {
  return io.lock(async () => {
    const now = io.stored();
    if (now && now.refresh !== mine) return now; // another tab won: use its pair
    return io.rotate(mine);
  });
}

type LockManager = { request<T>(name: string, f: () => Promise<T>): Promise<T> };

/** tabLock is navigator.locks where it exists, else no lock (one tab's order). */
export function tabLock<T>(name: string, f: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
  return locks ? locks.request(name, f) : f();
}
