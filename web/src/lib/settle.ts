/** A message as the lists read it: an id and when it was posted. */
export interface Dated {
  id: string;
  created_at: string;
}

/** settleRead is the list a read of the newest messages leaves on the
 * page. got is the read's answer, newest first as the API gives it;
 * shown is what the page holds now. Messages that arrived live while the
 * read was on its way (posted after its newest, not in it) stay after it,
 * and the edits and deletes that arrived meanwhile (changed: a message, or
 * null for a delete) apply over the read's copies. The answer replaced the
 * list, so a message that came live between the read and its answer was
 * lost until the next reload. Oldest first. */
export function settleRead<T extends Dated>(got: T[], shown: T[], changed?: Map<string, T | null>): T[] {
  const at = (m: T) => Date.parse(m.created_at);
  const ids = new Set(got.map((m) => m.id));
  const newest = got.length ? at(got[0]) : -Infinity;
  const live = shown.filter((m) => !ids.has(m.id) && at(m) >= newest);
  const fresh = got
    .slice()
    .reverse()
    .flatMap((m) => (changed?.has(m.id) ? (changed.get(m.id) ?? []) : [m]));
  return [...fresh, ...live];
}
