// YouTube's IFrame Player API, loaded once per page. A network that drops
// youtube.com without refusing it (a filter that black-holes the address)
// holds the script's request open for minutes with neither load nor error:
// the load is given up after LOAD_TIMEOUT_MS so the player can say so.

export const LOAD_TIMEOUT_MS = 15_000;
export const API_URL = "https://www.youtube.com/iframe_api";

let loading: Promise<void> | null = null;

/** youTubeAPI resolves once window.YT.Player exists. Callers share one
 * load; after a failed one the next call tries again. */
export function youTubeAPI(): Promise<void> {
  const w = window as any;
  if (w.YT?.Player) return Promise.resolve();
  if (loading) return loading;
  const s = document.createElement("script");
  const attempt = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("YouTube did not answer from this network")), LOAD_TIMEOUT_MS);
    s.onerror = () => {
      clearTimeout(timer);
      reject(new Error("YouTube is not reachable from this network"));
    };
    w.onYouTubeIframeAPIReady = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  loading = attempt.then(
    () => {
      loading = null; // window.YT.Player answers from now on
    },
    (e: Error) => {
      loading = null;
      s.remove();
      throw e;
    },
  );
  s.src = API_URL;
  document.head.appendChild(s);
  return loading;
}
