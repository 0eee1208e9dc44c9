// Watch-room playback sync: pure math, no DOM, unit-tested in sync.test.ts.
//
// The room clock is server-authoritative: position = base + (now − since) ×
// speed while playing. A player keeps in step by nudging its playbackRate
// (at most ±5 %) for small drift and seeking only when it is more than a
// second off, so viewers do not see the picture jump for every hiccup.

export interface RoomClock {
  /** position (seconds) the server reported */
  position: number;
  playing: boolean;
  /** room playback speed (1 = normal) */
  speed: number;
  /** local clock (ms) when that position was true */
  at: number;
}

export interface SyncOptions {
  /** drift below this (s) is left alone */
  deadband: number;
  /** drift above this (s) is fixed by seeking */
  seekThreshold: number;
  /** largest rate change, as a fraction of speed (0.05 = ±5 %) */
  maxAdjust: number;
  /** seconds over which rate correction aims to close the gap */
  horizon: number;
  /** when paused, drift above this (s) is fixed by seeking */
  pausedTolerance: number;
}

export const defaultSync: SyncOptions = { deadband: 0.04, seekThreshold: 1, maxAdjust: 0.05, horizon: 2, pausedTolerance: 0.05 };

export type Correction =
  | { kind: "none"; rate: number; drift: number }
  | { kind: "rate"; rate: number; drift: number }
  | { kind: "seek"; rate: number; drift: number; to: number };

/** expectedPosition extrapolates the room clock to local time nowMs. */
export function expectedPosition(c: RoomClock, nowMs: number, duration = Infinity): number {
  let p = c.position;
  if (c.playing) p += (Math.max(0, nowMs - c.at) / 1000) * c.speed;
  if (Number.isFinite(duration) && duration > 0) p = Math.min(p, duration);
  return Math.max(0, p);
}

/**
 * correction decides what a player at localPos should do to match the room
 * clock at nowMs. drift > 0 means the player is behind.
 */
export function correction(c: RoomClock, localPos: number, nowMs: number, opts: SyncOptions = defaultSync, duration = Infinity): Correction {
  const target = expectedPosition(c, nowMs, duration);
  const drift = target - localPos;
  const speed = c.speed > 0 ? c.speed : 1;
  const abs = Math.abs(drift);
  if (!c.playing) {
    if (abs > opts.pausedTolerance) return { kind: "seek", rate: speed, drift, to: target };
    return { kind: "none", rate: speed, drift };
  }
  if (abs > opts.seekThreshold) return { kind: "seek", rate: speed, drift, to: target };
  if (abs <= opts.deadband) return { kind: "none", rate: speed, drift };
  const adjust = clamp(drift / opts.horizon, -opts.maxAdjust, opts.maxAdjust);
  return { kind: "rate", rate: round(speed * (1 + adjust)), drift };
}

/** fromSync builds a clock from an OTT `sync` message received at nowMs. */
export function applySync(prev: RoomClock, msg: { isPlaying?: boolean; playbackPosition?: number; playbackSpeed?: number }, nowMs: number): RoomClock {
  const next = { ...prev };
  // Fold elapsed time first so a speed- or play-only delta keeps position.
  next.position = expectedPosition(prev, nowMs);
  next.at = nowMs;
  if (typeof msg.playbackSpeed === "number" && msg.playbackSpeed > 0) next.speed = msg.playbackSpeed;
  if (typeof msg.isPlaying === "boolean") next.playing = msg.isPlaying;
  if (typeof msg.playbackPosition === "number" && Number.isFinite(msg.playbackPosition)) next.position = Math.max(0, msg.playbackPosition);
  return next;
}

function clamp(x: number, lo: number, hi: number) {
  return Math.min(hi, Math.max(lo, x));
}

function round(x: number) {
  return Math.round(x * 10000) / 10000;
}
