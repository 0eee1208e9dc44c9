import { describe, expect, it } from "vitest";
import { clipError, clipFileName, clipIds, downloadURL } from "./clips";

const id = "0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

describe("clipIds", () => {
  const cases: [string, string, string[]][] = [
    ["the server's clip line", `🎬 Clip at 16:18 (10 s): /api/clips/${id}/file`, [id]],
    ["upper case id", `/api/clips/${id.toUpperCase()}/file`, [id]],
    ["twice: once", `/api/clips/${id}/file and /api/clips/${id}/file.`, [id]],
    ["no clip", "hello /api/clips/", []],
    ["not an id", "/api/clips/../../api/admin/file", []],
    ["part of another path", `/x/api/clips/${id}/file`, []],
    ["in another URL", `https://evil.example/api/clips/${id}/file`, []],
    ["followed by more path", `/api/clips/${id}/file/../x`, []],
  ];
  for (const [name, src, want] of cases) it(name, () => expect(clipIds(src)).toEqual(want));
});

describe("clipFileName", () => {
  it("the title", () => expect(clipFileName("Concert at 1:02", id)).toBe("Concert at 1 02.mp4"));
  it("no title", () => expect(clipFileName("  ", id)).toBe("clip-0197a1b2.mp4"));
  it("no path", () => expect(clipFileName("../../etc/passwd", id)).toBe(".. .. etc passwd.mp4"));
});

describe("clipError", () => {
  it("401", () => expect(clipError(401)).toMatch(/Sign in/));
  it("404", () => expect(clipError(404)).toMatch(/deleted/));
  it("500", () => expect(clipError(500)).toMatch(/HTTP 500/));
});

describe("downloadURL", () => {
  it("a signed URL", () => expect(downloadURL(`/api/clips/${id}/file?exp=1&sig=ab`)).toBe(`/api/clips/${id}/file?exp=1&sig=ab&download=1`));
  it("no query", () => expect(downloadURL(`/api/clips/${id}/file`)).toBe(`/api/clips/${id}/file?download=1`));
});
