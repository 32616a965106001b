/**
 * `ploppy explain PATH`: the causal chain behind a path's state on this peer.
 *
 * Theory of operation
 * - The log is folded from empty; before each event the version current at
 *   the path is noted, and after it `stepsFor` (story.ts) says what the event
 *   meant for the path. The result is every step, in log order, each with the
 *   sequence number behind it.
 * - Steps that carry a version are grouped by version (vector, stamp, author):
 *   for each, where it came from (made here, or announced by which neighbour,
 *   through which hops), what was decided about it, and how it relates to
 *   the version now at the path (the current one, an ancestor, a conflict's
 *   loser, a newer one still being fetched).
 * - Then the present: the status row, who deleted the file if it is deleted,
 *   and if it is not in sync, why (a failed transfer and its code, sources
 *   not connected, a peer that does not have a block, a rejected block, or
 *   ignore rules, which the caller checks because they live on disk).
 */
import { hlcToIso } from '../core/hlc.js';
import type { PeerId } from '../core/ids.js';
import { compare } from '../core/vv.js';
import { isDecision } from '../engine/decide.js';
import type { RecordedEvent } from '../events/types.js';
import type { FileVersion } from '../events/version.js';
import { evolve, initialState, type ConflictEntry, type State } from '../projections/state.js';
import { statusView, type StatusRow } from '../projections/views.js';
import { appendStep, conflictSteps, conflictsAbout, stepsFor, type Route, type Step, type StepContext } from './story.js';
import { versionId, versionInfo, type VersionInfo } from './versions.js';

export type Relation = 'current' | 'ancestor' | 'conflict loser' | 'concurrent' | 'newer (being fetched)' | 'other';

export interface VersionStory {
  readonly version: VersionInfo;
  readonly relation: Relation;
  /**
   * 'made here': a local change on this peer; 'settled here': made by a decision of this peer (a merge,
   * a conflict's settled winner, a resolve); 'remote': first heard of in a neighbour's message.
   */
  readonly origin: Origin;
  readonly firstSeq: number;
  /** Every message that announced it: from whom, when (our clock), by which route. */
  readonly arrivals: readonly { readonly seq: number; readonly time: string; readonly from: PeerId; readonly cmd: string; readonly route: Route }[];
  /** Every other step about it (decisions, commits), by sequence number. */
  readonly steps: readonly number[];
}

export type Origin = 'made here' | 'settled here' | 'remote';

const localEvents: ReadonlySet<string> = new Set(['LocalFileChanged', 'LocalFileDeleted', 'LocalFileMoved']);

export interface Explanation {
  readonly path: string;
  readonly self: PeerId | null;
  readonly head: number;
  /** The status row as `ploppy status` shows it, or null when nothing is known about the path. */
  readonly status: StatusRow | null;
  readonly current: VersionInfo | null;
  readonly changedSeq: number | null;
  readonly deleted: { readonly by: PeerId; readonly time: string; readonly here: boolean; readonly seq: number; readonly renamedTo: string | null } | null;
  /** Why the path is not in sync, one reason per line; empty when it is. */
  readonly notInSync: readonly string[];
  readonly conflicts: readonly ConflictEntry[];
  readonly versions: readonly VersionStory[];
  readonly steps: readonly Step[];
}

export interface ExplainOptions {
  /** Peers connected now (the daemon knows); default: the peers the projection calls direct. */
  readonly connected?: ReadonlySet<string>;
  /** The caller found the path ignored by `.ploppyignore`. */
  readonly ignored?: boolean;
}

const currentAt = (s: State, path: string): FileVersion | undefined => s.transfers.get(path)?.version ?? s.files.get(path)?.version;

/**
 * A streaming explainer: push the log's events in sequence order (from seq 1
 * to the point to explain), then read the explanation. Holds the fold and the
 * steps about the path, never the whole log.
 */
export class Explainer {
  private readonly state = initialState();
  private readonly steps: Step[] = [];
  private input: RecordedEvent | null = null;
  private group: StepContext['group'] = { before: undefined, sources: null, local: undefined };

  constructor(
    readonly path: string,
    private readonly options: ExplainOptions = {},
  ) {}

  push(e: RecordedEvent): void {
    const before = currentAt(this.state, this.path);
    const conflictsBefore = conflictsAbout(this.state, this.path);
    if (!isDecision(e.type)) this.group = { before, sources: this.state.transfers.get(this.path)?.sources ?? null, local: undefined };
    evolve(this.state, e);
    if (!isDecision(e.type)) {
      this.input = e;
      const entry = this.state.files.get(this.path);
      if (localEvents.has(e.type) && entry?.changedSeq === e.seq) this.group = { ...this.group, local: entry.version };
    }
    const ctx = { path: this.path, self: this.state.meta.self, before, after: this.state, input: this.input, group: this.group };
    for (const step of [...stepsFor(e, ctx), ...conflictSteps(e, this.path, conflictsBefore, this.state)]) appendStep(this.steps, step);
  }

  result(): Explanation {
    this.state.dirty.clear();
    return summarise(this.state, this.path, this.steps, this.options);
  }
}

/** Explain `path` from a whole log (seq 1 to the point to explain), in sequence order. */
export function explain(events: Iterable<RecordedEvent>, path: string, options: ExplainOptions = {}): Explanation {
  const x = new Explainer(path, options);
  for (const e of events) x.push(e);
  return x.result();
}

function summarise(state: State, path: string, steps: Step[], options: ExplainOptions): Explanation {
  const entry = state.files.get(path);
  const connected = options.connected ?? directPeers(state);
  const status = statusView(state, { path, all: true, connected }).rows.find((r) => r.path === path) ?? null;
  const current = entry?.version;
  const conflicts = [...state.conflicts.values()].filter((c) => c.path === path || c.copyPath === path);
  return {
    path,
    self: state.meta.self,
    head: state.meta.head,
    status,
    current: current === undefined ? null : versionInfo(current),
    changedSeq: entry?.changedSeq ?? null,
    deleted: current?.deleted === true
      ? { by: current.author, time: hlcToIso(current.hlc), here: current.author === state.meta.self, seq: entry?.changedSeq ?? 0, renamedTo: renamedTo(steps, current) }
      : null,
    notInSync: notInSyncReasons(state, path, steps, connected, options.ignored === true),
    conflicts,
    versions: stories(steps, state, path),
    steps,
  };
}

/** The new path, when the tombstone `v` was written by a rename. */
function renamedTo(steps: readonly Step[], v: FileVersion): string | null {
  const id = versionId(v);
  const step = steps.find((st) => st.versionId === id && st.movedTo !== undefined && st.movedFrom === v.path);
  return step?.movedTo ?? null;
}

export function directPeers(s: State): Set<string> {
  const out = new Set<string>();
  for (const p of s.peers.values()) if (p.reachability === 'direct') out.add(p.peer);
  return out;
}

/** Why `path` is not (yet) what its peers have: one line per reason, from the transfer and the steps. */
function notInSyncReasons(s: State, path: string, steps: readonly Step[], connected: ReadonlySet<string>, ignored: boolean): string[] {
  const reasons: string[] = [];
  if (ignored) reasons.push(`ignored: a .ploppyignore rule matches ${path}, so it is neither announced nor applied`);
  const t = s.transfers.get(path);
  if (t === undefined) {
    if (steps.length === 0 && !ignored) reasons.push(`no event in this peer's log concerns ${path}: no peer has announced it to us and it was never seen on this disk`);
    return reasons;
  }
  const sources = t.sources.filter((p) => p !== s.meta.self);
  if (t.state === 'failed') reasons.push(`transfer failed: ${failureText(t.reason ?? 'unknown reason')}`);
  else reasons.push(`downloading: ${t.blocksDone} of ${t.blocksTotal} blocks of ${describeTarget(t.version)}`);
  const offline = sources.filter((p) => !connected.has(p));
  if (sources.length > 0 && offline.length === sources.length) {
    reasons.push(`waiting for a peer: every source (${offline.map((p) => p.slice(0, 8)).join(', ')}) is disconnected`);
  }
  const sinceStart = steps.filter((st) => st.seq >= t.startedSeq);
  for (const st of sinceStart) if (st.event === 'BlockRejected' || (st.event === 'MessageReceived' && st.cmd === 'DONTHAVE')) reasons.push(`${st.what} (seq ${st.seq})`);
  return reasons;
}

function failureText(reason: string): string {
  if (reason.startsWith('DISK_FULL')) return `the disk is full (${reason})`;
  if (reason.startsWith('BLOCK_UNAVAILABLE')) {
    const block = /block ([0-9a-f]{6,64})/.exec(reason)?.[1];
    return `${block === undefined ? 'a block' : `block ${block}`} could not be had from any peer (${reason})`;
  }
  return reason;
}

const describeTarget = (v: FileVersion): string => (v.deleted ? 'a delete' : `${v.size} bytes`);

function relationOf(v: FileVersion | VersionInfo, s: State, path: string): Relation {
  const current = s.files.get(path)?.version;
  const fetching = s.transfers.get(path)?.version;
  const id = versionId(v);
  if (current !== undefined && versionId(current) === id) return 'current';
  if (fetching !== undefined && versionId(fetching) === id) return 'newer (being fetched)';
  if ([...s.conflicts.values()].some((c) => c.path === path && versionId(c.loser) === id)) return 'conflict loser';
  if (current === undefined) return 'other';
  const o = compare(v.vv, current.vv);
  return o === 'before' ? 'ancestor' : o === 'concurrent' ? 'concurrent' : 'other';
}

/** Group the steps that carry a version by version, in order of first appearance. */
function stories(steps: readonly Step[], s: State, path: string): VersionStory[] {
  const byId = new Map<string, { version: VersionInfo; origin: Origin; firstSeq: number; arrivals: VersionStory['arrivals'][number][]; steps: number[] }>();
  for (const st of steps) {
    if (st.versionId === undefined || st.version === undefined || st.version.path !== path) continue;
    let story = byId.get(st.versionId);
    if (story === undefined) {
      const origin: Origin = st.route !== undefined ? 'remote' : localEvents.has(st.event) ? 'made here' : 'settled here';
      story = { version: st.version, origin, firstSeq: st.seq, arrivals: [], steps: [] };
      byId.set(st.versionId, story);
    }
    if (st.route !== undefined && st.from !== undefined) story.arrivals.push({ seq: st.seq, time: st.time, from: st.from, cmd: st.cmd ?? '', route: st.route });
    else story.steps.push(st.seq);
  }
  return [...byId.values()].map((x) => ({ ...x, relation: relationOf(x.version, s, path) }));
}
