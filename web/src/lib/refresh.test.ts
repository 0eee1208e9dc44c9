import { describe, expect, it } from "vitest";
import { refreshShared, type Pair, type SharedRefresh } from "./refresh";

/** Two tabs over one localStorage and one server that rotates. */
function world() {
  let store: Pair | null = { access: "a0", refresh: "r0" };
  let n = 0;
  const calls: string[] = [];
  let tail = Promise.resolve();
  const io: SharedRefresh = {
    // A fair lock: callers run one after another, in order.
    lock<T>(f: () => Promise<T>): Promise<T> {
      const run = tail.then(f);
      tail = run.then(
        () => undefined,
        () => undefined,
      );
      return run;
    },
    stored: () => store,
    async rotate(refresh: string) {
      calls.push(refresh);
      await Promise.resolve();
      if (refresh !== store?.refresh) throw new Error("reuse");
      n++;
      store = { access: `a${n}`, refresh: `r${n}` };
      return store;
    },
  };
  return { io, calls, get store() { return store; } };
}

describe("refreshShared", () => {
  it("two tabs refreshing at once call the server once and share the pair", async () => {
    const w = world();
    const [a, b] = await Promise.all([refreshShared("r0", w.io), refreshShared("r0", w.io)]);
    expect(w.calls).toEqual(["r0"]);
    expect(a).toEqual({ access: "a1", refresh: "r1" });
    expect(b).toEqual(a);
  });
  it("a later refresh rotates again", async () => {
    const w = world();
    await refreshShared("r0", w.io);
    expect(await refreshShared("r1", w.io)).toEqual({ access: "a2", refresh: "r2" });
    expect(w.calls).toEqual(["r0", "r1"]);
  });
  it("a failed rotation reaches the caller", async () => {
    const w = world();
    const io = { ...w.io, rotate: async () => Promise.reject(new Error("401")) };
    await expect(refreshShared("r0", io)).rejects.toThrow("401");
  });
});
