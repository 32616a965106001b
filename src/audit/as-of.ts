/**
 * Time travel: the projections as they were at a point of the log, given as
 * a sequence number or a time (compared with each event's HLC wall time, on
 * this peer's clock). A point is a prefix of the log, so the state there is
 * the fold of that prefix: exactly what the peer held right after that event.
 */
import { PloppyError } from '../core/errors.js';
import type { RecordedEvent } from '../events/types.js';
import { evolve, initialState, type State } from '../projections/state.js';
import { parseBound, type Bound } from '../store/log-query.js';

/** True when `e` lies past `bound` (the fold stops before it). */
export const pastBound = (e: RecordedEvent, bound: Bound): boolean => ('seq' in bound ? e.seq > bound.seq : e.hlc.wallMs > bound.timeMs);

/**
 * Fold `events` (in sequence order, from seq 1) up to and including `bound`.
 * HLC stamps never go backwards within one log, so the first event past a
 * time bound ends the prefix.
 */
export async function foldUntil(events: AsyncIterable<RecordedEvent> | Iterable<RecordedEvent>, bound: Bound): Promise<State> {
  const s = initialState();
  for await (const e of events) {
    if (pastBound(e, bound)) break;
    evolve(s, e);
  }
  s.dirty.clear();
  return s;
}

/** The same fold, for events already in memory. */
export function foldUntilSync(events: Iterable<RecordedEvent>, bound: Bound): State {
  const s = initialState();
  for (const e of events) {
    if (pastBound(e, bound)) break;
    evolve(s, e);
  }
  s.dirty.clear();
  return s;
}

/** Parse a required point (`--from`, `--to`, `--as-of`): a sequence number or an ISO time. */
export function parsePoint(text: string | number | undefined, flag: string): Bound {
  const bound = parseBound(text, flag);
  if (bound === undefined) throw new PloppyError('USAGE', `${flag} needs a sequence number or an ISO time`);
  return bound;
}

/** A point as people read it. */
export const describePoint = (b: Bound): string => ('seq' in b ? `seq ${b.seq}` : new Date(b.timeMs).toISOString());

/** A copy of `s` that later evolve calls leave alone (entries are replaced, never mutated; meta is). */
export function snapshotState(s: State): State {
  return {
    meta: { ...s.meta },
    files: new Map(s.files),
    peers: new Map(s.peers),
    conflicts: new Map(s.conflicts),
    transfers: new Map(s.transfers),
    dirty: new Set(),
  };
}

/** The states at several points, from one pass over the log (for `diff`). */
export async function foldToPoints(events: AsyncIterable<RecordedEvent> | Iterable<RecordedEvent>, bounds: readonly Bound[]): Promise<State[]> {
  const s = initialState();
  const out: (State | undefined)[] = bounds.map(() => undefined);
  const takeReached = (e: RecordedEvent | null): void => {
    bounds.forEach((b, i) => {
      if (out[i] === undefined && (e === null || pastBound(e, b))) out[i] = snapshotState(s);
    });
  };
  for await (const e of events) {
    takeReached(e);
    if (out.every((x) => x !== undefined)) break;
    evolve(s, e);
  }
  takeReached(null);
  return out as State[];
}
