/** The URL broadcast software publishes to on this server, or null when
 * its RTMP ingest is off: serverconfig's rtmpServerPort is the port the
 * RTMP listener is bound to, 0 with no listener (--rtmp-addr empty). A
 * config without the field gets Owncast's default, 1935. */
export function rtmpPublishURL(host: string, port: number | null | undefined): string | null {
  const p = port ?? 1935;
  if (!p) return null;
  return `rtmp://${host}:${p}/live`;
}
