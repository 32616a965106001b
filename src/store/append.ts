/**
 * Writing events without an engine (the CLI's commands, the benchmark, tests).
 * The engine stamps and folds as it decides; these helpers do the same two
 * steps for callers that just have plain events to record.
 */
import { tick, type Hlc } from '../core/hlc.js';
import type { PeerId } from '../core/ids.js';
import type { IdSource } from '../core/ports.js';
import type { StampedEvent } from '../engine/types.js';
import { currentVersions, type Event, type RecordedEvent } from '../events/types.js';
import { evolve, type State } from '../projections/state.js';
import type { EventLog } from './event-log.js';

export interface StampContext {
  /** The peer recording the events. */
  readonly peer: PeerId;
  readonly nowMs: number;
  readonly ids: IdSource;
}

/**
 * Give plain events the envelope of the next entries after `headSeq`: gapless
 * sequence numbers, UUID v7 ids, and HLC stamps ticked from `lastHlc` (the
 * state's `meta.hlc`).
 */
export function stampEvents(headSeq: number, lastHlc: Hlc, events: readonly Event[], ctx: StampContext): StampedEvent[] {
  let hlc = lastHlc;
  let seq = headSeq;
  return events.map((e) => {
    hlc = tick(hlc, ctx.nowMs);
    seq++;
    // A literal, not a spread: V8 builds `{...e, more}` on a slow path, and this is per event.
    return { type: e.type, data: e.data, seq, id: ctx.ids.eventId(ctx.nowMs), hlc, peer: ctx.peer, v: currentVersions[e.type] } as StampedEvent;
  });
}

/** Fold stamped events into `state` (in place), then write them with the keys they dirtied. */
export function appendEvents(log: EventLog, state: State, events: readonly StampedEvent[]): Promise<readonly RecordedEvent[]> {
  // evolve reads the envelope's seq, hlc and peer only; prev and hash are the log's to add.
  for (const e of events) evolve(state, e as unknown as RecordedEvent);
  return log.write(events, state);
}

/** Stamp, fold and write plain events: one call for a CLI command. */
export function recordEvents(log: EventLog, state: State, events: readonly Event[], ctx: StampContext): Promise<readonly RecordedEvent[]> {
  return appendEvents(log, state, stampEvents(log.head(), state.meta.hlc, events, ctx));
}
