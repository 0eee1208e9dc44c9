// Reconnect delays: exponential from base to max with ±25 % jitter, so a
// restarted server is not hit by every client in the same millisecond.
export function backoffDelay(attempt: number, baseMs = 1000, maxMs = 30000, rand: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  const jitter = 0.75 + rand() * 0.5;
  return Math.round(Math.min(maxMs, exp * jitter));
}
