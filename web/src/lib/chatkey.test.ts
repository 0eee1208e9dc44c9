import { describe, expect, it } from "vitest";
import { owncastChatKey } from "./chatkey";

describe("owncastChatKey", () => {
  it("keeps the keys registrations are already stored under", () => {
    expect(owncastChatKey()).toBe("owncast_chat");
    expect(owncastChatKey("")).toBe("owncast_chat");
    expect(owncastChatKey("0190-abc")).toBe("owncast_chat:0190-abc");
  });
});
