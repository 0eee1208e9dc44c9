// Clips in a chat: the server announces a clip in its stage channel with a
// line that ends in the clip file's path ("🎬 Title (10 s):
// /api/clips/<id>/file", internal/app/wire_recordings.go). The file needs
// the member's access, so a plain link is refused: the app finds the path
// in the message and offers Play and Download, which use a short-lived
// signed URL of the file the API hands the member (ClipPlayer).

const clipPath = /(?:^|\s)\/api\/clips\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/file(?=$|[\s.,;:!?)])/gi;

/** clipIds lists the clips a message names by their file's path, once each, in order. */
export function clipIds(content: string): string[] {
  const out: string[] = [];
  for (const m of content.matchAll(clipPath)) {
    const id = m[1].toLowerCase();
    if (!out.includes(id)) out.push(id);
  }
  return out;
}

/** clipFileName is the name a downloaded clip is saved under: its title, made safe for a file system. */
export function clipFileName(title: string, id: string): string {
  const base = title.replace(/[\u0000-\u001f\u007f<>:"/\\|?*]+/g, " ").replace(/\s+/g, " ").trim().slice(0, 80);
  return `${base || `clip-${id.slice(0, 8)}`}.mp4`;
}

/** clipError says why a clip's file could not be fetched, from the HTTP status. */
export function clipError(status: number): string {
  if (status === 401) return "Sign in to play this clip.";
  if (status === 404 || status === 403) return "This clip was deleted, or you cannot see it.";
  if (status === 503) return "The clip is on a server that cannot be reached now; try again later.";
  return `The clip could not be loaded (HTTP ${status}).`;
}

/** downloadURL is a clip's signed file URL that the server sends as an attachment (Content-Disposition). */
export function downloadURL(url: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}download=1`;
}
