/**
 * The audit queries over an EventLog, shared by the daemon's control ops and
 * the CLI's offline path (when no daemon holds the database): each streams
 * the log once, in sequence order, and returns plain JSON.
 */
import { checkPath } from '../core/path.js';
import type { RecordedEvent } from '../events/types.js';
import type { ConflictEntry } from '../projections/state.js';
import type { EventLog } from '../store/event-log.js';
import { parseBound, type Bound } from '../store/log-query.js';
import { foldToPoints, parsePoint, pastBound } from './as-of.js';
import { ConflictCollector, type ConflictDetail } from './conflicts.js';
import { diffStates, type StateDiff } from './diff.js';
import { Explainer, type ExplainOptions, type Explanation } from './explain.js';
import { exportLine, projectionHash } from './ndjson.js';
import { evolve, initialState } from '../projections/state.js';

/** The path `explain` was given, checked (PATH_INVALID for anything that is not a path inside the folder). */
export const explainedPath = (path: string): string => checkPath(path.replace(/\/+$/, ''));

/** `explain PATH [--as-of POINT]`. */
export async function explainFromLog(log: EventLog, path: string, asOf: string | undefined, options: ExplainOptions = {}): Promise<Explanation> {
  const explainer = new Explainer(explainedPath(path), options);
  const bound: Bound | undefined = parseBound(asOf, '--as-of');
  for await (const e of log.read(bound !== undefined && 'seq' in bound ? { until: bound.seq } : {})) {
    if (bound !== undefined && pastBound(e, bound)) break;
    explainer.push(e);
  }
  return explainer.result();
}

/** `conflicts --json`: the open conflicts with every concurrent version and the events behind them. */
export async function conflictsFromLog(log: EventLog, conflicts: readonly ConflictEntry[]): Promise<ConflictDetail[]> {
  const collector = new ConflictCollector([...conflicts].sort((a, b) => (a.copyPath < b.copyPath ? -1 : 1)));
  for await (const e of log.read()) collector.push(e);
  return collector.result();
}

/** `diff --from A [--to B]` (B defaults to the head). */
export async function diffFromLog(log: EventLog, from: string, to: string | undefined): Promise<StateDiff> {
  const a = parsePoint(from, '--from');
  const b = to === undefined || to === '' ? { seq: log.head() } : parsePoint(to, '--to');
  const [x, y] = await foldToPoints(log.read(), [a, b]);
  if (x === undefined || y === undefined) throw new Error('foldToPoints returned fewer states than points');
  return x.meta.head <= y.meta.head ? diffStates(x, y) : diffStates(y, x);
}

export interface ExportSummary {
  readonly events: number;
  readonly firstSeq: number | null;
  readonly head: number;
  readonly headHash: string | null;
  /** The projection hash of the log up to `head` (what `import` of a complete export prints). */
  readonly projectionHash: string;
}

/** `export [--from SEQ]`: every record from `from` as an export line; the fold from seq 1 gives the projection hash. */
export async function exportFromLog(log: EventLog, from: number, emit: (line: string) => void | Promise<void>): Promise<ExportSummary> {
  const state = initialState();
  let events = 0;
  let first: RecordedEvent | null = null;
  let last: RecordedEvent | null = null;
  for await (const e of log.read()) {
    evolve(state, e);
    if (e.seq < from) continue;
    const wait = emit(exportLine(e));
    if (wait !== undefined) await wait;
    events++;
    first ??= e;
    last = e;
  }
  state.dirty.clear();
  return { events, firstSeq: first?.seq ?? null, head: last?.seq ?? state.meta.head, headHash: last?.hash ?? null, projectionHash: projectionHash(state) };
}
