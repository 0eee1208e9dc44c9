// A thin fetch wrapper: every failure becomes an ApiError that says what
// failed ("Loading messages: 403 Forbidden — Missing permission").

export class ApiError extends Error {
  constructor(
    public readonly what: string,
    public readonly status: number,
    public readonly detail: string,
  ) {
    super(status ? `${what} failed: ${detail} (HTTP ${status})` : `${what} failed: ${detail}`);
  }
}

/** retryable reports whether asking again may help: not after the server
 * refused the request itself (a 4xx such as 404 for an invite that does
 * not exist), except for a timeout or a rate limit. */
export function retryable(err: unknown): boolean {
  if (!(err instanceof ApiError) || err.status < 400 || err.status > 499) return true;
  return err.status === 408 || err.status === 425 || err.status === 429;
}

/** errorDetail pulls the message out of each API's error shape. */
export function errorDetail(body: unknown, fallback: string): string {
  if (typeof body === "string" && body.trim()) return body.trim().slice(0, 300);
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    // Together: {error: "..."}; OTT: {success:false, error:{name, message}}; Owncast: {success:false, message}
    if (typeof b.error === "string") return b.error;
    if (b.error && typeof b.error === "object") {
      const e = b.error as Record<string, unknown>;
      if (typeof e.message === "string") return e.message;
      if (typeof e.name === "string") return e.name;
    }
    if (typeof b.message === "string" && b.message) return b.message;
  }
  return fallback;
}

// Requests carry their credentials explicitly (Bearer, Basic, access
// tokens) and never the browser's: credentials "omit" also keeps the
// browser from popping its own login box on a Basic-auth 401 (Owncast's
// admin API answers with WWW-Authenticate: Basic).
export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** A multipart body (file uploads); the browser sets its Content-Type. */
  form?: FormData;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** "include" lets the browser add credentials it holds (admin Basic auth). */
  credentials?: RequestCredentials;
}

/** A read (GET) whose answer has not begun by then is given up: a request
 * on a connection that died (as after a laptop's sleep) can otherwise wait
 * for minutes with the page saying "Loading". Writes are not bounded: the
 * server may be doing them. */
export const READ_TIMEOUT_MS = 60_000;

/** request performs one HTTP call and decodes JSON; non-2xx throws ApiError. */
export async function request<T>(what: string, url: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  } else if (opts.form) {
    body = opts.form;
  }
  const method = opts.method ?? "GET";
  const ctl = new AbortController();
  const cancel = () => ctl.abort();
  if (opts.signal?.aborted) cancel();
  opts.signal?.addEventListener("abort", cancel);
  let timedOut = false;
  const timer =
    method === "GET"
      ? setTimeout(() => {
          timedOut = true;
          ctl.abort();
        }, READ_TIMEOUT_MS)
      : undefined;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body, signal: ctl.signal, credentials: opts.credentials ?? "omit" });
  } catch (e) {
    if (timedOut) throw new ApiError(what, 0, `the server did not answer in ${READ_TIMEOUT_MS / 1000} s`);
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(what, 0, "the server could not be reached");
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", cancel);
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!res.ok) {
    throw new ApiError(what, res.status, errorDetail(parsed, res.statusText || "request failed"));
  }
  return parsed as T;
}
