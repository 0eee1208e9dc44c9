/** localNext is where a sign-in page goes once signed in: the `next`
 * parameter when it names a page of this origin, else "/". The check is the
 * browser's own URL parser, not a prefix test: `/\evil.example` and
 * `/<tab>/evil.example` start with one slash but name another host. */
export function localNext(raw: string | null, origin: string = location.origin): string {
  if (!raw || !raw.startsWith("/")) return "/";
  let u: URL;
  try {
    u = new URL(raw, origin + "/");
  } catch {
    return "/";
  }
  if (u.origin !== new URL(origin).origin) return "/";
  return u.pathname + u.search + u.hash;
}
