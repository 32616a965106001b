/**
 * `ploppy sim --from-logs a.ndjson b.ndjson ...`: replay the recorded history
 * of several real peers through the engine's decisions, in a causal order
 * rebuilt from their logs, and check the simulated peers reach the
 * projections the real ones recorded. `--perturb` reorders or drops
 * deliveries (seeded) to show which orders lead elsewhere.
 *
 * Theory of operation
 * - Each log is split into groups: a recorded input (a local change, a
 *   delivered message, an effect's outcome, a command, a timer) and the
 *   decisions recorded right after it. Each simulated peer starts from an
 *   empty state and is fed its inputs; for each, the engine's own `decide`
 *   runs on the fold, exactly as `handle()` runs it, and its decisions are
 *   folded in turn (the recorded envelope is kept when the decision is the one
 *   recorded, so an unchanged history reproduces byte for byte).
 * - Deliveries link the logs. A version announcement (IHAVE, IDELETED,
 *   IMOVED) carries `upTo`, the sender's log sequence when it was sent: the
 *   delivery on the receiver is placed after that point of the sender, and
 *   matched to the sender's files projection there (each announced version
 *   must be the sender's entry at its path: that is how the message ids and
 *   version vectors of one log are tied to the other). The peers are then
 *   interleaved in an order that respects every such link (ties by HLC time).
 * - A matched announcement is re-made from the *simulated* sender: its
 *   versions are the simulated sender's entries at the send point. Unchanged,
 *   they are the recorded ones; under a perturbation, a receiver hears what
 *   the sender would then have had, so a change of outcome propagates.
 * - Block transfers are not re-run (logs never hold block bytes). An effect's
 *   outcome is fed as recorded while the simulated peer agrees with the
 *   recorded one at that path; once they differ, a commit lands the transfer
 *   the simulated peer has for that content (waiting for it if it is not
 *   there yet), block outcomes apply only to a transfer in progress, and a
 *   scan that merely saw a commit land is dropped (a real edit is kept).
 * - Messages without a send point (HELLO, PING, RESOLVED, ...) are fed as
 *   recorded, and nothing is re-sent that the real peers did not send: a
 *   dropped message stays lost unless a later recorded message covers it.
 */
import { assert } from '../core/assert.js';
import { compareHlc, tick } from '../core/hlc.js';
import type { EventId, PeerId } from '../core/ids.js';
import { canonicalJson } from '../core/json.js';
import { PloppyError } from '../core/errors.js';
import { decide, isDecision } from '../engine/decide.js';
import type { LoggedMessage } from '../events/messages.js';
import { currentVersions, pathsOf, type EnvelopedEvent, type Event, type RecordedEvent } from '../events/types.js';
import { sameContent, type FileVersion } from '../events/version.js';
import { evolve, initialState, type State } from '../projections/state.js';
import { versionId } from './versions.js';

/**
 * Equal values: the same JSON, or (key order aside) the same canonical JSON.
 * The first test settles nearly every comparison here (versions and decisions
 * made by the same code, or parsed from its output, keep their key order) at
 * a fraction of the cost of sorting keys.
 */
const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b) || canonicalJson(a) === canonicalJson(b);

/** One peer's exported log. */
export interface PeerLog {
  readonly name: string;
  readonly records: readonly RecordedEvent[];
}

type ItemKind = 'command' | 'local' | 'delivery' | 'outcome' | 'other';

/** A recorded input and the decisions recorded after it. */
export interface Item {
  readonly peer: number;
  readonly index: number;
  readonly input: RecordedEvent;
  readonly decisions: readonly RecordedEvent[];
  readonly kind: ItemKind;
  /** For an announcement from a peer whose log we have: that peer and its sequence at the send. */
  sendPoint: { readonly peer: number; readonly seq: number } | null;
  /** The announcement's versions equal the sender's entries at the send point. */
  matched: boolean;
  /** Recorded-world facts found by the first pass (see `recordedFacts`). */
  recordedAt: string | null;
  localEdit: boolean;
}

const announcing = (m: LoggedMessage): m is Extract<LoggedMessage, { cmd: 'IHAVE' | 'IDELETED' | 'IMOVED' }> =>
  m.cmd === 'IHAVE' || m.cmd === 'IDELETED' || m.cmd === 'IMOVED';

export const announcedVersions = (m: LoggedMessage): readonly FileVersion[] =>
  m.cmd === 'IHAVE' ? m.files : m.cmd === 'IDELETED' ? [m.version] : m.cmd === 'IMOVED' ? [m.tombstone, m.version] : [];

function kindOf(e: RecordedEvent): ItemKind {
  switch (e.type) {
    case 'NetworkCreated': case 'NetworkJoined': case 'NetworkLeft': case 'ResolveRequested':
      return 'command';
    case 'LocalFileChanged': case 'LocalFileDeleted': case 'LocalFileMoved':
      return 'local';
    case 'MessageReceived':
      return 'delivery';
    case 'BlockVerified': case 'BlockRejected': case 'FileCommitted': case 'TransferFailed':
      return 'outcome';
    default:
      return 'other';
  }
}

/** Split a log into input groups. A decision with no input before it is a corrupt log. */
export function groupsOf(records: readonly RecordedEvent[], peer: number): Item[] {
  const items: Item[] = [];
  let current: { input: RecordedEvent; decisions: RecordedEvent[] } | null = null;
  const close = (): void => {
    if (current === null) return;
    items.push({ peer, index: items.length, input: current.input, decisions: current.decisions, kind: kindOf(current.input), sendPoint: null, matched: false, recordedAt: null, localEdit: false });
  };
  for (const e of records) {
    if (isDecision(e.type)) {
      if (current === null) throw new PloppyError('IMPORT_INVALID', `seq ${e.seq}: decision ${e.type} with no input before it`);
      current.decisions.push(e);
      continue;
    }
    close();
    current = { input: e, decisions: [] };
  }
  close();
  return items;
}

/** The paths whose entries decide whether an outcome or a scan still means the same thing. */
const itemPaths = (e: RecordedEvent): string[] =>
  e.type === 'LocalFileMoved' ? [e.data.from, e.data.to] : 'path' in e.data && typeof e.data.path === 'string' ? [e.data.path] : [];

/**
 * What a peer holds at the given paths, as version identities (vector, stamp,
 * author: cheap for a file of thousands of blocks; sequence numbers are left
 * out, they differ once histories do).
 */
export function entriesAt(s: State, paths: readonly string[]): string {
  const id = (v: FileVersion | undefined): string => (v === undefined ? '-' : versionId(v));
  return paths.map((p) => `${id(s.files.get(p)?.version)}|${id(s.transfers.get(p)?.version)}`).join('\n');
}

/**
 * First pass, over each recorded log in its own order: send points and
 * matching of announcements, and for outcomes and scans what the recorded
 * peer held at their paths just before them (and whether a scan was an edit).
 */
function recordedFacts(logs: readonly PeerLog[], items: readonly Item[][]): void {
  const byPeer = new Map<string, number>();
  logs.forEach((l, i) => {
    const self = l.records[0]?.peer;
    if (self !== undefined) byPeer.set(self, i);
  });
  const waiting = new Map<string, Item[]>();
  for (const list of items) {
    for (const it of list) {
      if (it.input.type !== 'MessageReceived' || !announcing(it.input.data.message)) continue;
      const sender = byPeer.get(it.input.data.from);
      if (sender === undefined) continue;
      it.sendPoint = { peer: sender, seq: it.input.data.message.upTo };
      const key = `${sender}/${it.sendPoint.seq}`;
      waiting.set(key, [...(waiting.get(key) ?? []), it]);
    }
  }
  items.forEach((list, peer) => {
    const s = initialState();
    for (const it of list) {
      if (it.kind === 'outcome' || it.kind === 'local') it.recordedAt = entriesAt(s, itemPaths(it.input));
      for (const e of [it.input, ...it.decisions]) {
        evolve(s, e);
        for (const d of waiting.get(`${peer}/${e.seq}`) ?? []) d.matched = matches(d, s);
      }
      if (it.kind === 'local') it.localEdit = itemPaths(it.input).some((p) => madeBy(s, p, it.input));
      s.dirty.clear();
    }
  });
}

/** The entry at `path` is a new version `e` made (a local edit, not a fetched version landing). */
function madeBy(s: State, path: string, e: RecordedEvent): boolean {
  const f = s.files.get(path);
  return f !== undefined && f.changedSeq === e.seq && f.version.author === e.peer && compareHlc(f.version.hlc, e.hlc) === 0;
}

/** Every version the delivery announces is the sender's entry at its path. */
function matches(d: Item, sender: State): boolean {
  if (d.input.type !== 'MessageReceived') return false;
  return announcedVersions(d.input.data.message).every((v) => sameJson(sender.files.get(v.path)?.version ?? null, v));
}

/**
 * One simulated peer: its fold; the commits waiting for the transfer they
 * belong to; the recorded commits still ahead of it; and the paths where it
 * has parted from its recorded history (only there may a transfer be landed
 * that the recorded peer never landed).
 */
export class SimulatedPeer {
  readonly state: State = initialState();
  readonly deferred: Item[] = [];
  /** path -> contents (sameContent keys) of recorded commits not yet reached. */
  readonly commitsAhead = new Map<string, string[]>();
  readonly diverged = new Set<string>();
  fed = 0;
  skipped = 0;
  synthesized = 0;
  decisionsDiffer = 0;

  constructor(
    readonly name: string,
    /** The recorded end state: a transfer still pending there is not landed here either. */
    readonly recordedEnd: State,
  ) {}

  /** Feed one input (possibly rewritten) and let the engine decide on it; `synthetic`: not in the log at all. */
  feed(it: Item, input: Event, synthetic = false): void {
    const s = this.state;
    const recorded = it.input;
    const hlc = compareHlc(recorded.hlc, s.meta.hlc) > 0 ? recorded.hlc : tick(s.meta.hlc, recorded.hlc.wallMs);
    const enveloped = { ...input, seq: s.meta.head + 1, id: recorded.id, hlc, peer: recorded.peer, v: currentVersions[input.type] } as EnvelopedEvent;
    evolve(s, enveloped);
    const expected = synthetic ? [] : it.decisions;
    let next = 0;
    decide(s, enveloped, (decision) => {
      const r = expected[next++];
      const same = r !== undefined && r.type === decision.type && sameJson(r.data, decision.data);
      if (!same) this.parted(decision, r);
      const stamp = same ? { id: r.id, hlc: r.hlc, peer: r.peer } : { id: syntheticId(recorded.id, next), hlc: tick(s.meta.hlc, hlc.wallMs), peer: recorded.peer };
      evolve(s, { ...decision, seq: s.meta.head + 1, ...stamp, v: currentVersions[decision.type] } as EnvelopedEvent);
    });
    for (const r of expected.slice(next)) this.parted(r, undefined);
    s.dirty.clear();
    if (synthetic) this.synthesized++;
    else this.fed++;
  }

  /** A decision differs from the recorded one: the paths both concern have parted. */
  private parted(derived: Event | undefined, recorded: Event | undefined): void {
    this.decisionsDiffer++;
    for (const e of [derived, recorded]) if (e !== undefined) for (const p of pathsOf(e)) this.diverged.add(p);
  }
}

const contentKey = (v: FileVersion): string => (v.deleted ? '-' : canonicalJson([v.type, v.mode, v.size, v.blocks, v.target ?? '']));

/** A stand-in id for a decision the recorded log does not have (UUID v7 shaped, derived from the input's). */
const syntheticId = (inputId: EventId, n: number): EventId => `${inputId.slice(0, 24)}${n.toString(16).padStart(12, '0')}` as EventId;

/** Rewrite a matched announcement with the simulated sender's entries at the send point. */
function rewritten(m: LoggedMessage, captured: ReadonlyMap<string, FileVersion | undefined>): LoggedMessage | null {
  const swap = (v: FileVersion): FileVersion | undefined => (captured.has(v.path) ? captured.get(v.path) : v);
  const versions = announcedVersions(m);
  // Unchanged (always, when nothing was perturbed): the recorded message itself.
  if (versions.every((v) => sameJson(swap(v) ?? null, v))) return m;
  switch (m.cmd) {
    case 'IHAVE': {
      const files = m.files.map(swap).filter((v): v is FileVersion => v !== undefined);
      return files.length === 0 ? null : { ...m, files };
    }
    case 'IDELETED': {
      const version = swap(m.version);
      return version === undefined ? null : { ...m, version };
    }
    case 'IMOVED': {
      const tombstone = swap(m.tombstone);
      const version = swap(m.version);
      if (tombstone === undefined || version === undefined) return null;
      return { ...m, tombstone, version };
    }
    default:
      return m;
  }
}

export interface Walk {
  readonly peers: SimulatedPeer[];
  /** `duplicates`: deliveries of a message id the receiver had already received (fed again, as the engine got them). */
  readonly deliveries: { total: number; linked: number; matched: number; rewritten: number; unlinked: number; duplicates: number };
}

/**
 * Second pass: interleave the peers' item lists (each in the given order)
 * so that every linked delivery comes after its send point, and feed them.
 * `diverged[i]`: paths where peer i's list was perturbed.
 */
export function walk(logs: readonly PeerLog[], lists: readonly Item[][], perturbed: boolean, diverged: readonly ReadonlySet<string>[] = []): Walk {
  const peers = logs.map((l, i) => {
    const sim = new SimulatedPeer(l.name, recordedState(l.records));
    for (const p of diverged[i] ?? []) sim.diverged.add(p);
    for (const it of lists[i] ?? []) if (it.input.type === 'FileCommitted') noteCommit(sim, it.input.data.version, 1);
    return sim;
  });
  const heads = lists.map(() => 0);
  /** Items whose send point (peer/seq) the walk has passed, with the simulated sender's entries then. */
  const captured = new Map<Item, Map<string, FileVersion | undefined>>();
  const bySendPoint = new Map<string, Item[]>();
  for (const list of lists) for (const it of list) if (it.sendPoint !== null && it.matched) bySendPoint.set(key(it.sendPoint), [...(bySendPoint.get(key(it.sendPoint)) ?? []), it]);
  const stats = { total: 0, linked: 0, matched: 0, rewritten: 0, unlinked: 0, duplicates: 0 };
  const seenIds = lists.map(() => new Set<string>());
  const ready = (it: Item): boolean => it.sendPoint === null || !it.matched || captured.has(it);
  for (;;) {
    let pick: Item | null = null;
    let stuck: Item | null = null;
    lists.forEach((list, p) => {
      const it = list[heads[p] as number];
      if (it === undefined) return;
      if (stuck === null || before(it, stuck)) stuck = it;
      if (ready(it) && (pick === null || before(it, pick))) pick = it;
    });
    const it = (pick ?? stuck) as Item | null;
    if (it === null) break;
    heads[it.peer] = (heads[it.peer] as number) + 1;
    if (pick === null) it.matched = false; // logs that do not fit together: fed as recorded
    if (it.input.type === 'MessageReceived') {
      const ids = seenIds[it.peer] as Set<string>;
      if (ids.has(it.input.data.message.id)) stats.duplicates++;
      ids.add(it.input.data.message.id);
    }
    processItem(it, peers, captured, stats, perturbed);
    const sim = peers[it.peer] as SimulatedPeer;
    for (const e of [it.input, ...it.decisions]) {
      for (const d of bySendPoint.get(`${it.peer}/${e.seq}`) ?? []) captured.set(d, capture(d, sim.state));
    }
  }
  for (const sim of peers) sim.skipped += sim.deferred.splice(0).length;
  return { peers, deliveries: stats };
}

function noteCommit(sim: SimulatedPeer, v: FileVersion, delta: 1 | -1): void {
  const list = sim.commitsAhead.get(v.path) ?? [];
  const k = contentKey(v);
  if (delta === 1) list.push(k);
  else if (list.includes(k)) list.splice(list.indexOf(k), 1);
  sim.commitsAhead.set(v.path, list);
}

const key = (p: { peer: number; seq: number }): string => `${p.peer}/${p.seq}`;

/** The earlier of two items by recorded HLC time (then peer, for a total order). */
function before(a: Item, b: Item): boolean {
  const c = compareHlc(a.input.hlc, b.input.hlc);
  return c !== 0 ? c < 0 : a.peer < b.peer;
}

function capture(d: Item, sender: State): Map<string, FileVersion | undefined> {
  const out = new Map<string, FileVersion | undefined>();
  if (d.input.type === 'MessageReceived') for (const v of announcedVersions(d.input.data.message)) out.set(v.path, sender.files.get(v.path)?.version);
  return out;
}

function processItem(it: Item, peers: readonly SimulatedPeer[], captured: Map<Item, Map<string, FileVersion | undefined>>, stats: Walk['deliveries'], perturbed: boolean): void {
  const sim = peers[it.peer] as SimulatedPeer;
  const e = it.input;
  if (e.type === 'FileCommitted') noteCommit(sim, e.data.version, -1);
  if (e.type === 'MessageReceived') {
    stats.total++;
    if (it.sendPoint === null) stats.unlinked++;
    else stats.linked++;
    if (it.matched) stats.matched++;
    const swapped = captured.get(it);
    const message = swapped === undefined ? e.data.message : rewritten(e.data.message, swapped);
    if (message !== e.data.message) {
      stats.rewritten++;
      for (const v of announcedVersions(e.data.message)) sim.diverged.add(v.path);
    }
    if (message !== null) sim.feed(it, { type: 'MessageReceived', data: { ...e.data, message } });
  } else if (!perturbed || it.kind === 'command' || it.kind === 'other' || it.recordedAt === entriesAt(sim.state, itemPaths(e))) {
    sim.feed(it, e);
  } else {
    for (const p of itemPaths(e)) sim.diverged.add(p);
    if (it.kind === 'local') {
      if (it.localEdit) sim.feed(it, e);
      else sim.skipped++;
    } else adaptOutcome(sim, it);
  }
  if (perturbed) settleTransfers(sim, it);
}

/** An outcome recorded for a transfer the simulated peer may not have (yet). */
function adaptOutcome(sim: SimulatedPeer, it: Item): void {
  const e = it.input;
  assert(it.kind === 'outcome', `adaptOutcome on a ${e.type}`);
  if (e.type === 'FileCommitted') {
    sim.deferred.push(it);
    return;
  }
  if ('path' in e.data && typeof e.data.path === 'string' && sim.state.transfers.has(e.data.path)) sim.feed(it, e);
  else sim.skipped++;
}

/**
 * After each input of a perturbed run: a transfer whose recorded commit is
 * waiting lands with it; on a path that has parted from the recording, a
 * transfer with no recorded commit ahead lands at once (the model's
 * assumption: a fetch succeeds, and quickly), unless the recorded peer
 * itself still had it pending at the end.
 */
function settleTransfers(sim: SimulatedPeer, trigger: Item): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (const t of [...sim.state.transfers.values()]) {
      const path = t.path;
      const waiting = sim.deferred.find((d) => d.input.type === 'FileCommitted' && d.input.data.path === path && sameContent(d.input.data.version, t.version));
      if (waiting !== undefined) {
        sim.deferred.splice(sim.deferred.indexOf(waiting), 1);
        sim.feed(waiting, { type: 'FileCommitted', data: { path, version: t.version } });
        changed = true;
        continue;
      }
      if (!sim.diverged.has(path) || (sim.commitsAhead.get(path) ?? []).includes(contentKey(t.version))) continue;
      const pending = sim.recordedEnd.transfers.get(path)?.version;
      if (pending !== undefined && sameContent(pending, t.version)) continue;
      sim.feed(trigger, { type: 'FileCommitted', data: { path, version: t.version } }, true);
      changed = true;
    }
  }
}

/** Prepare the logs: group, link and match (the first pass). */
export function prepare(logs: readonly PeerLog[]): Item[][] {
  for (const l of logs) {
    const first = l.records[0];
    if (first === undefined) throw new PloppyError('IMPORT_INVALID', `${l.name}: the log is empty`);
    if (first.seq !== 1) throw new PloppyError('IMPORT_INVALID', `${l.name}: the log starts at seq ${first.seq}; replaying needs it from seq 1 (export without --from)`);
  }
  const ids = logs.map((l) => l.records[0]?.peer);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw new PloppyError('USAGE', `two of the logs are from the same peer ${dup}`);
  const lists = logs.map((l, i) => groupsOf(l.records, i));
  recordedFacts(logs, lists);
  return lists;
}

/** The projections a run is judged on: files and conflicts, exactly (with sequence numbers). */
export const judgedText = (s: State): string => canonicalJson({ files: s.files, conflicts: s.conflicts });

/** The same, without sequence numbers: what is on disk and which conflicts are open. */
export function outcomeText(s: State): string {
  const files = [...s.files.entries()].map(([p, f]) => [p, f.version]);
  const conflicts = [...s.conflicts.entries()].map(([p, c]) => [p, { path: c.path, winner: c.winner, loser: c.loser, rule: c.rule }]);
  return canonicalJson({ files, conflicts });
}

/** The fold of a whole recorded log. */
export function recordedState(records: readonly RecordedEvent[]): State {
  const s = initialState();
  for (const e of records) evolve(s, e);
  s.dirty.clear();
  return s;
}

export type { PeerId };
