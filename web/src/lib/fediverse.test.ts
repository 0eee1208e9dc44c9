import { describe, expect, it } from "vitest";
import { engagementLabel, isEngagement, webUrl } from "./fediverse";

describe("fediverse engagement", () => {
  it("knows Owncast's three event types", () => {
    expect(isEngagement("FEDIVERSE_ENGAGEMENT_LIKE")).toBe(true);
    expect(isEngagement("FEDIVERSE_ENGAGEMENT_REPOST")).toBe(true);
    expect(isEngagement("FEDIVERSE_ENGAGEMENT_FOLLOW")).toBe(true);
    expect(isEngagement("CHAT")).toBe(false);
    expect(isEngagement(undefined)).toBe(false);
    expect(engagementLabel("FEDIVERSE_ENGAGEMENT_REPOST")).toBe("Boosted on the fediverse");
  });

  it("keeps only web links from remote servers", () => {
    expect(webUrl("https://social.example/@alice")).toBe("https://social.example/@alice");
    expect(webUrl("javascript:alert(1)")).toBe("");
    expect(webUrl("data:image/png;base64,AAAA")).toBe("");
    expect(webUrl("not a url")).toBe("");
    expect(webUrl(null)).toBe("");
  });
});
