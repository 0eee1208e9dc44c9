// Owncast 0.2's scheduled streams as the stage page shows them: the next
// event from /api/status's scheduledEvent, with an optional countdown.

export interface ScheduledEvent {
  id: string;
  name: string;
  description: string;
  startTime: string;
  durationMinutes: number;
  chatOpen: boolean;
}

export interface ScheduleConfig {
  enabled: boolean;
  showCountdown: boolean;
  chatOpenMinutesBefore: number;
}

/** countdown says how long until start: "in 2 d 3 h", "in 5 h 4 min",
 * "in 3 min", or "now" once it has started. */
export function countdown(startTime: string, now: number): string {
  const ms = Date.parse(startTime) - now;
  if (!Number.isFinite(ms)) return "";
  if (ms <= 0) return "now";
  const min = Math.ceil(ms / 60_000);
  const d = Math.floor(min / 1440), h = Math.floor((min % 1440) / 60), m = min % 60;
  if (d > 0) return `in ${d} d ${h} h`;
  if (h > 0) return `in ${h} h ${m} min`;
  return `in ${m} min`;
}

/** nextEventLabel is the stage page's line for the next event, or "" when
 * there is none or it cannot be read. */
export function nextEventLabel(ev: ScheduledEvent | undefined, cfg: ScheduleConfig | undefined, now: number, locale?: string): string {
  if (!ev || !ev.name) return "";
  const t = Date.parse(ev.startTime);
  if (!Number.isFinite(t)) return "";
  const when = new Date(t).toLocaleString(locale, { weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
  const left = cfg?.showCountdown ? ` (${countdown(ev.startTime, now)})` : "";
  return t <= now ? `Scheduled now: ${ev.name}` : `Next: ${ev.name}, ${when}${left}`;
}
