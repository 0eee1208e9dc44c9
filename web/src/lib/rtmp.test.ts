import { describe, expect, it } from "vitest";
import { rtmpPublishURL } from "./rtmp";

describe("rtmpPublishURL", () => {
  it("names the port the listener is bound to", () => {
    expect(rtmpPublishURL("hearth.example", 1935)).toBe("rtmp://hearth.example:1935/live");
    expect(rtmpPublishURL("hearth.example", 19350)).toBe("rtmp://hearth.example:19350/live");
  });
  it("is Owncast's default port when the config has none", () => {
    expect(rtmpPublishURL("hearth.example", undefined)).toBe("rtmp://hearth.example:1935/live");
    expect(rtmpPublishURL("hearth.example", null)).toBe("rtmp://hearth.example:1935/live");
  });
  it("is none when RTMP ingest is off (port 0)", () => {
    expect(rtmpPublishURL("hearth.example", 0)).toBeNull();
  });
});
