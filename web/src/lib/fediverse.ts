// Fediverse engagement notices (Owncast's FEDIVERSE_ENGAGEMENT_* chat
// events): a follow, like or boost of a stage's ActivityPub actor, shown in
// the stage's chat with the remote account's avatar and a link to it.

export interface Engagement {
  type: string;
  image: string;
  link: string;
  title: string;
}

const labels: Record<string, string> = {
  FEDIVERSE_ENGAGEMENT_FOLLOW: "Followed on the fediverse",
  FEDIVERSE_ENGAGEMENT_LIKE: "Liked on the fediverse",
  FEDIVERSE_ENGAGEMENT_REPOST: "Boosted on the fediverse",
};

// isEngagement tells a fediverse notice's event type.
export function isEngagement(type: string | undefined): boolean {
  return !!type && type in labels;
}

// engagementLabel names the kind of engagement for screen readers and the tag.
export function engagementLabel(type: string): string {
  return labels[type] ?? "On the fediverse";
}

// webUrl keeps only http(s) URLs: the avatar and link come from a remote
// server and must not become javascript: or data: links.
export function webUrl(u: string | undefined | null): string {
  if (!u) return "";
  try {
    const p = new URL(u);
    return p.protocol === "https:" || p.protocol === "http:" ? p.href : "";
  } catch {
    return "";
  }
}
