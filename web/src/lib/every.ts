/**
 * every runs f at once and again ms after each run has ended, until the
 * returned stop is called. A run still on its way is never overlapped: a
 * server slow to answer gets one poll at a time, not a pile of them that
 * takes the browser's connections to it (six per host) from every other
 * request, and an older answer cannot land after a newer one. ms may be a
 * function, read after each run.
 */
export function every(ms: number | (() => number), f: () => unknown): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = async () => {
    try {
      await f();
    } catch {
      // f reports its own failures; the polling goes on.
    }
    if (!stopped) timer = setTimeout(run, typeof ms === "function" ? ms() : ms);
  };
  void run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
