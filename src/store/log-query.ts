/**
 * Filters for `ploppy log` (and the daemon's log op): by path, peer, type and
 * a range given as sequence numbers or ISO times (compared with each event's
 * HLC wall time).
 */
import { PloppyError } from '../core/errors.js';
import { isUnder } from '../core/path.js';
import { isEventType, pathsOf, type EventType, type RecordedEvent } from '../events/types.js';

export interface LogFilter {
  readonly path?: string;
  readonly peer?: string;
  readonly types?: readonly EventType[];
  readonly since?: Bound;
  readonly until?: Bound;
}

export type Bound = { readonly seq: number } | { readonly timeMs: number };

/** Parse `--since/--until`: a sequence number or an ISO-8601 time. */
export function parseBound(text: string | number | undefined, flag: string): Bound | undefined {
  if (text === undefined || text === '') return undefined;
  if (typeof text === 'number' || /^\d+$/.test(text)) return { seq: Number(text) };
  const timeMs = Date.parse(text);
  if (Number.isNaN(timeMs)) throw new PloppyError('USAGE', `${flag} must be a sequence number or an ISO time, not ${JSON.stringify(text)}`);
  return { timeMs };
}

export function parseTypes(text: string | undefined): EventType[] | undefined {
  if (text === undefined || text === '') return undefined;
  const types = text.split(',').map((t) => t.trim()).filter((t) => t !== '');
  for (const t of types) if (!isEventType(t)) throw new PloppyError('USAGE', `unknown event type ${JSON.stringify(t)}`);
  return types as EventType[];
}

/** Peers an event involves: the recorder and any peer named in its data. */
export function peersOf(e: RecordedEvent): string[] {
  const out = [e.peer as string];
  const d = e.data as Record<string, unknown>;
  for (const k of ['from', 'peer', 'by', 'via']) if (typeof d[k] === 'string') out.push(d[k] as string);
  for (const k of ['version', 'winner', 'loser']) {
    const v = d[k] as { author?: unknown } | undefined;
    if (v !== undefined && typeof v.author === 'string') out.push(v.author);
  }
  return out;
}

const afterOrAt = (e: RecordedEvent, b: Bound): boolean => ('seq' in b ? e.seq >= b.seq : e.hlc.wallMs >= b.timeMs);
const beforeOrAt = (e: RecordedEvent, b: Bound): boolean => ('seq' in b ? e.seq <= b.seq : e.hlc.wallMs <= b.timeMs);

export function matches(e: RecordedEvent, f: LogFilter): boolean {
  if (f.types !== undefined && !f.types.includes(e.type)) return false;
  if (f.since !== undefined && !afterOrAt(e, f.since)) return false;
  if (f.until !== undefined && !beforeOrAt(e, f.until)) return false;
  if (f.peer !== undefined && !peersOf(e).some((p) => p === f.peer || p.startsWith(f.peer as string))) return false;
  if (f.path !== undefined && !pathsOf(e).some((p) => isUnder(p, f.path as string))) return false;
  return true;
}

/** Read range hints, so a seq-bounded query does not scan the whole log. */
export function seqRange(f: LogFilter): { from?: number; until?: number } {
  const out: { from?: number; until?: number } = {};
  if (f.since !== undefined && 'seq' in f.since) out.from = f.since.seq;
  if (f.until !== undefined && 'seq' in f.until) out.until = f.until.seq;
  return out;
}

/** One line of human-readable log output. */
export function describeEvent(e: RecordedEvent): string {
  const when = new Date(e.hlc.wallMs).toISOString();
  const paths = pathsOf(e);
  const d = e.data as Record<string, unknown>;
  const extra =
    e.type === 'MessageReceived'
      ? `${(d.message as { cmd: string }).cmd} from ${String(d.from).slice(0, 8)}`
      : paths.length > 0
        ? paths.join(' -> ')
        : summarise(d);
  return `${String(e.seq).padStart(8)} ${when} ${e.peer.slice(0, 8)} ${e.type.padEnd(18)} ${extra}`;
}

function summarise(d: Record<string, unknown>): string {
  return Object.entries(d)
    .filter(([, v]) => typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}
