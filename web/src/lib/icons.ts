// Path data of the app's control icons (see components/Icon.svelte).

export const iconPaths = {
  // A pushpin: head, body, needle.
  pin: ["M9 3h6", "M10 3v6l-3 4h10l-3-4V3", "M12 13v8"],
  // A paperclip.
  attach: ["M20 11.5l-8.2 8.2a5 5 0 0 1-7.1-7.1l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4L14.8 7"],
  // Channel kinds.
  hash: ["M5 9h15", "M4 15h15", "M10 3L8 21", "M16 3l-2 18"],
  speaker: ["M4 9v6h4l5 4V5L8 9H4z", "M16.5 8.5a5 5 0 0 1 0 7", "M19.5 5.5a9 9 0 0 1 0 13"],
  play: ["M7 4l13 8-13 8V4z"],
  broadcast: ["M12 12h.01", "M8.5 8.5a5 5 0 0 0 0 7", "M15.5 8.5a5 5 0 0 1 0 7", "M5.5 5.5a9 9 0 0 0 0 13", "M18.5 5.5a9 9 0 0 1 0 13"],
} as const satisfies Record<string, readonly string[]>;

export type IconName = keyof typeof iconPaths;

const kinds: Record<string, IconName> = { text: "hash", voice: "speaker", watch: "play", stage: "broadcast" };

/** channelIcon is the icon of a channel kind (unknown kinds read as text). */
export function channelIcon(kind: string): IconName {
  return kinds[kind] ?? "hash";
}
