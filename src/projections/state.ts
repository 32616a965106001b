/**
 * Projections: files, peers, conflicts, transfers and the node's own metadata,
 * derived from the log by a pure fold.
 *
 * Theory of operation
 * - `files` holds the version committed on this peer's disk for each path
 *   (tombstones included), with `changedSeq`, the log sequence at which the
 *   entry last changed: this is the peer's "index sequence" that other peers'
 *   cursors point into (LIST since N returns entries with changedSeq > N).
 * - A local observation that differs from the committed content becomes a new
 *   version: our own counter incremented. That is decided here, in the fold,
 *   because it depends on nothing but the state and the event.
 * - A remote version does not touch `files` until it is on disk: the engine's
 *   VersionAccepted starts a transfer, FileCommitted ends it.
 * - `evolve` updates the state in place and returns it (a million-event replay
 *   cannot afford copies); it records the keys it changed in `dirty` so the
 *   store can write exactly those in the same batch as the events.
 *
 * The switch statements end in `unreachable(e)`: adding an event type is a
 * compile error here until it is handled. (ts-pattern reads better but costs
 * several microseconds per event on the replay path; see bench/log.)
 */
import { unreachable } from '../core/assert.js';
import { sameBlockList } from '../core/blocks.js';
import type { Hlc } from '../core/hlc.js';
import type { PeerId } from '../core/ids.js';
import { dominates, merge, normalise, type VersionVector } from '../core/vv.js';
import type { SyncPath } from '../core/path.js';
import type { ConflictRule, EnvelopedEvent, LocalObservation } from '../events/types.js';
import { pickWinner, pristineCopy } from './conflict-rules.js';
import type { FileVersion } from '../events/version.js';

export interface FileEntry {
  readonly version: FileVersion;
  readonly changedSeq: number;
  /**
   * The mtime this peer's scanner last saw on disk for this very content,
   * when it is not the version's (the file was touched, or rewritten with
   * the same bytes). Local: never sent, no new version, changedSeq unmoved.
   * It lets the next scan, after a restart too, trust the file by its stat
   * instead of hashing it again.
   */
  readonly seenMtimeMs?: number;
}

export type Reachability = 'direct' | 'indirect' | 'gone';

export interface PeerEntry {
  readonly peer: PeerId;
  readonly address: string;
  readonly reachability: Reachability;
  /** For indirect peers: who told us about them. */
  readonly via: PeerId | null;
  /** HLC wall time of the last event concerning this peer, on our clock. */
  readonly lastSeenMs: number;
  /** Their index sequence we have received everything up to (the reconnect cursor). */
  readonly cursor: number;
}

export interface ConflictEntry {
  readonly path: SyncPath;
  readonly copyPath: SyncPath;
  readonly winner: FileVersion;
  readonly loser: FileVersion;
  readonly rule: ConflictRule;
  readonly detectedSeq: number;
}

export type TransferState = 'downloading' | 'failed';

export interface TransferEntry {
  readonly path: SyncPath;
  readonly version: FileVersion;
  readonly sources: readonly PeerId[];
  readonly blocksDone: number;
  readonly blocksTotal: number;
  readonly state: TransferState;
  readonly reason: string | null;
  readonly startedSeq: number;
}

export interface Meta {
  self: PeerId | null;
  networkId: string | null;
  name: string | null;
  dir: string | null;
  joinedVia: string | null;
  left: boolean;
  /** The last sequence folded in. */
  head: number;
  /** The latest HLC stamp seen in the log. */
  hlc: Hlc;
  /**
   * The highest counter of ours in any version we hold or fetch, at any path:
   * every version we make takes the next one (ownVector), so no two versions
   * of ours ever share a counter, even where vectors travel between paths (a
   * conflict copy carries its loser's vector). Absent in states stored before
   * it existed, hence read with `?? 0`.
   */
  ownCounter: number;
}

export interface State {
  meta: Meta;
  files: Map<string, FileEntry>;
  peers: Map<string, PeerEntry>;
  conflicts: Map<string, ConflictEntry>;
  transfers: Map<string, TransferEntry>;
  /** Keys changed since the store last drained it: 'f/PATH', 'p/PEER', 'c/COPYPATH', 't/PATH', 'm'. */
  dirty: Set<string>;
}

export const initialState = (): State => ({
  meta: { self: null, networkId: null, name: null, dir: null, joinedVia: null, left: false, head: 0, hlc: { wallMs: 0, counter: 0 }, ownCounter: 0 },
  files: new Map(),
  peers: new Map(),
  conflicts: new Map(),
  transfers: new Map(),
  dirty: new Set(),
});

export const projectionPrefixes = { files: 'f/', peers: 'p/', conflicts: 'c/', transfers: 't/' } as const;

/** Fold one recorded event into the state (in place) and return it. */
export function evolve(s: State, e: EnvelopedEvent): State {
  s.meta.head = e.seq;
  s.meta.hlc = e.hlc;
  s.dirty.add('m');
  evolveMeta(s, e);
  evolveFiles(s, e);
  evolvePeers(s, e);
  evolveConflicts(s, e);
  evolveTransfers(s, e);
  return s;
}

export function evolveAll(s: State, events: Iterable<EnvelopedEvent>): State {
  for (const e of events) evolve(s, e);
  return s;
}

function evolveMeta(s: State, e: EnvelopedEvent): void {
  if (e.type === 'NetworkCreated') {
    Object.assign(s.meta, { self: e.data.peer, networkId: e.data.networkId, name: e.data.name, dir: e.data.dir, left: false });
  } else if (e.type === 'NetworkJoined') {
    Object.assign(s.meta, { self: e.data.peer, name: e.data.name, dir: e.data.dir, joinedVia: e.data.via, left: false });
  } else if (e.type === 'NetworkLeft') {
    s.meta.left = true;
  } else if (e.type === 'MessageReceived' && e.data.message.cmd === 'HELLO' && s.meta.networkId === null) {
    s.meta.networkId = e.data.message.network;
  }
}

// ------------------------------------------------------------------ files

function setFile(s: State, version: FileVersion, seq: number): void {
  s.files.set(version.path, { version, changedSeq: seq });
  s.dirty.add(projectionPrefixes.files + version.path);
  noteCounter(s, version);
}

function noteCounter(s: State, version: FileVersion): void {
  const mine = s.meta.self === null ? undefined : version.vv[s.meta.self];
  if (mine !== undefined && mine > (s.meta.ownCounter ?? 0)) s.meta.ownCounter = mine;
}

function observedVersion(s: State, obs: LocalObservation, e: EnvelopedEvent): FileVersion | null {
  // What we were fetching is what is now on disk (often our own commit, seen by the scanner before
  // its outcome came back): that version has landed; no new version of ours is made.
  const fetching = s.transfers.get(obs.path)?.version;
  if (fetching !== undefined && !fetching.deleted && sameObservation(fetching, obs)) return fetching;
  const current = s.files.get(obs.path)?.version;
  const self = s.meta.self ?? e.peer;
  if (current !== undefined && !current.deleted && sameObservation(current, obs)) return null;
  const base = {
    path: obs.path, type: obs.type, mode: obs.mode, size: obs.size, mtimeMs: obs.mtimeMs,
    blockSizeBytes: obs.blockSizeBytes, blocks: obs.blocks, deleted: false,
    vv: ownVector(s, obs.path, current?.vv ?? {}, self), hlc: e.hlc, author: self,
  };
  return obs.target === undefined ? base : { ...base, target: obs.target };
}

/** The current content seen again with another mtime: remember the mtime (see FileEntry.seenMtimeMs). */
function noteSeenMtime(s: State, obs: LocalObservation): void {
  const entry = s.files.get(obs.path);
  if (entry === undefined || obs.mtimeMs === (entry.seenMtimeMs ?? entry.version.mtimeMs)) return;
  const { version, changedSeq } = entry;
  s.files.set(obs.path, obs.mtimeMs === version.mtimeMs ? { version, changedSeq } : { version, changedSeq, seenMtimeMs: obs.mtimeMs });
  s.dirty.add(projectionPrefixes.files + obs.path);
}

const sameObservation = (v: FileVersion, o: LocalObservation): boolean =>
  v.type === o.type && v.mode === o.mode && v.size === o.size && (v.target ?? '') === (o.target ?? '') &&
  v.blocks.length === o.blocks.length && v.blocks.every((b, i) => b === o.blocks[i]);

/**
 * The vector of a version `self` makes at `path` on top of `base`: base with
 * our counter above every one we have used anywhere (Meta.ownCounter), not
 * only in `base`. Settling a conflict while a transfer is under way mints a
 * counter of ours into the transfer's target, which the files entry does not
 * carry; a conflict copy brings its loser's vector, with our counters from
 * another path, to the copy path. A version of ours that reused one of those
 * counters would share a vector with a different version, or look dominated
 * by it and be overwritten.
 */
export function ownVector(s: State, path: SyncPath, base: VersionVector, self: PeerId): VersionVector {
  const used = Math.max(
    base[self] ?? 0, s.meta.self === self ? (s.meta.ownCounter ?? 0) : 0,
    s.files.get(path)?.version.vv[self] ?? 0, s.transfers.get(path)?.version.vv[self] ?? 0,
  );
  return normalise({ ...base, [self]: used + 1 });
}

/** The tombstone `self` writes over `current` (a local delete, or `resolve` dropping a copy). */
export function tombstoneOf(s: State, current: FileVersion, self: PeerId, hlc: Hlc): FileVersion {
  return {
    path: current.path, type: current.type, mode: current.mode, size: 0, mtimeMs: current.mtimeMs,
    blockSizeBytes: current.blockSizeBytes, blocks: [], deleted: true,
    vv: ownVector(s, current.path, current.vv, self), hlc, author: self,
  };
}

function evolveFiles(s: State, e: EnvelopedEvent): void {
  const self = s.meta.self ?? e.peer;
  switch (e.type) {
    case 'LocalFileChanged': {
      const v = observedVersion(s, e.data, e);
      if (v !== null) setFile(s, v, e.seq);
      else noteSeenMtime(s, e.data);
      return;
    }
    case 'LocalFileDeleted': {
      const current = s.files.get(e.data.path)?.version;
      if (current !== undefined && !current.deleted) setFile(s, tombstoneOf(s, current, self, e.hlc), e.seq);
      return;
    }
    case 'LocalFileMoved': {
      const from = s.files.get(e.data.from)?.version;
      if (from === undefined || from.deleted) return;
      const to = s.files.get(e.data.to)?.version;
      setFile(s, tombstoneOf(s, from, self, e.hlc), e.seq);
      setFile(s, { ...from, path: e.data.to, vv: ownVector(s, e.data.to, to?.vv ?? {}, self), hlc: e.hlc, author: self }, e.seq);
      return;
    }
    case 'FileCommitted':
      setFile(s, e.data.version, e.seq);
      return;
    case 'VersionsMerged':
      setFile(s, e.data.version, e.seq);
      return;
    case 'NetworkCreated': case 'NetworkJoined': case 'NetworkLeft': case 'ResolveRequested':
    case 'ScanFinished': case 'MessageReceived': case 'PeerConnected': case 'PeerDisconnected':
    case 'PeerLearned': case 'PeerLost': case 'BlockVerified': case 'BlockRejected': case 'TransferFailed':
    case 'TimerFired': case 'VersionAccepted': case 'VersionSuperseded': case 'ConflictDetected': case 'ConflictResolved':
      return;
    default:
      unreachable(e);
  }
}

// ------------------------------------------------------------------ peers

function setPeer(s: State, p: PeerEntry): void {
  s.peers.set(p.peer, p);
  s.dirty.add(projectionPrefixes.peers + p.peer);
}

const blankPeer = (peer: PeerId): PeerEntry => ({ peer, address: '', reachability: 'gone', via: null, lastSeenMs: 0, cursor: 0 });

interface PeerChange {
  readonly address?: string;
  readonly reachability?: Reachability;
  readonly via?: PeerId | null;
  readonly lastSeenMs?: number;
  readonly cursor?: number;
}

/**
 * `p` with `c` applied. A literal rather than `{ ...p, ...c }`: V8 copies a
 * spread on a slow path (about 0.5 µs), and this runs for every message
 * received, on every replay.
 */
const changedPeer = (p: PeerEntry, c: PeerChange): PeerEntry => ({
  peer: p.peer,
  address: c.address ?? p.address,
  reachability: c.reachability ?? p.reachability,
  via: c.via === undefined ? p.via : c.via,
  lastSeenMs: c.lastSeenMs ?? p.lastSeenMs,
  cursor: c.cursor ?? p.cursor,
});

function evolvePeers(s: State, e: EnvelopedEvent): void {
  switch (e.type) {
    case 'PeerConnected': {
      const p = s.peers.get(e.data.peer) ?? blankPeer(e.data.peer);
      setPeer(s, changedPeer(p, { address: e.data.address || p.address, reachability: 'direct', via: null, lastSeenMs: e.hlc.wallMs }));
      return;
    }
    case 'PeerDisconnected': {
      const p = s.peers.get(e.data.peer);
      if (p !== undefined) setPeer(s, changedPeer(p, { reachability: 'gone', lastSeenMs: e.hlc.wallMs }));
      return;
    }
    case 'PeerLearned': {
      if (e.data.peer === s.meta.self) return;
      const p = s.peers.get(e.data.peer) ?? blankPeer(e.data.peer);
      if (p.reachability === 'direct') {
        if (e.data.address !== '' && p.address === '') setPeer(s, changedPeer(p, { address: e.data.address }));
        return;
      }
      setPeer(s, changedPeer(p, { address: e.data.address || p.address, reachability: 'indirect', via: e.data.via, lastSeenMs: e.hlc.wallMs }));
      return;
    }
    case 'PeerLost': {
      const p = s.peers.get(e.data.peer);
      if (p !== undefined && p.reachability === 'indirect' && p.via === e.data.via) setPeer(s, changedPeer(p, { reachability: 'gone' }));
      return;
    }
    case 'MessageReceived': {
      const p = s.peers.get(e.data.from) ?? blankPeer(e.data.from);
      const m = e.data.message;
      const cursor = m.cmd === 'IHAVE' || m.cmd === 'IMOVED' || m.cmd === 'IDELETED' ? advanceCursor(p.cursor, m.since ?? m.upTo, m.upTo) : p.cursor;
      const address = m.cmd === 'HELLO' ? m.address : p.address;
      setPeer(s, changedPeer(p, { address, cursor, lastSeenMs: e.hlc.wallMs }));
      return;
    }
    case 'NetworkCreated': case 'NetworkJoined': case 'NetworkLeft': case 'ResolveRequested':
    case 'LocalFileChanged': case 'LocalFileDeleted': case 'LocalFileMoved': case 'ScanFinished':
    case 'BlockVerified': case 'BlockRejected': case 'FileCommitted': case 'TransferFailed': case 'TimerFired':
    case 'VersionAccepted': case 'VersionSuperseded': case 'VersionsMerged': case 'ConflictDetected': case 'ConflictResolved':
      return;
    default:
      unreachable(e);
  }
}

/**
 * An announcement covering (since, upTo] moves the cursor only when it joins
 * what we already have (since <= cursor), so a lost message leaves a visible
 * gap. since = 0 is a complete listing: it sets the cursor even backwards (the
 * sender's log is shorter than we thought, e.g. restored from a backup).
 */
function advanceCursor(cursor: number, since: number, upTo: number): number {
  if (since === 0) return upTo;
  return since <= cursor ? Math.max(cursor, upTo) : cursor;
}

// ------------------------------------------------------------------ conflicts

/**
 * The conflicts projection is derived from the files projection, so that peers
 * whose files agree list the same conflicts (DESIGN.md invariant 1), however
 * and whenever each learned of them: there is an entry for every live,
 * pristine conflict copy (pristineCopy: named after its own stamp and author),
 * with the loser = the copy's version and the winner = the version now at the
 * conflict's path (the loser stands in while nothing is there). A copy that is
 * deleted, edited or adopted (`resolve --keep both`) ends its entry;
 * ConflictResolved ends it at once, ahead of the copy's tombstone.
 * ConflictDetected is the record of the decision (for audits and checkers)
 * and changes nothing here.
 */
function evolveConflicts(s: State, e: EnvelopedEvent): void {
  switch (e.type) {
    case 'ConflictResolved':
      if (s.conflicts.delete(e.data.copyPath)) s.dirty.add(projectionPrefixes.conflicts + e.data.copyPath);
      return;
    case 'LocalFileChanged': case 'LocalFileDeleted': case 'FileCommitted': case 'VersionsMerged':
      return filesChangedAt(s, e.data.path, e.seq);
    case 'LocalFileMoved':
      filesChangedAt(s, e.data.from, e.seq);
      return filesChangedAt(s, e.data.to, e.seq);
    case 'NetworkCreated': case 'NetworkJoined': case 'NetworkLeft': case 'ResolveRequested': case 'ScanFinished':
    case 'MessageReceived': case 'PeerConnected': case 'PeerDisconnected': case 'PeerLearned': case 'PeerLost':
    case 'BlockVerified': case 'BlockRejected': case 'TransferFailed': case 'TimerFired': case 'VersionAccepted':
    case 'VersionSuperseded': case 'ConflictDetected':
      return;
    default:
      unreachable(e);
  }
}

/** The files entry at `path` may have changed in event `seq`: it may be a copy, or a conflict's path. */
function filesChangedAt(s: State, path: SyncPath, seq: number): void {
  const entry = s.files.get(path);
  if (entry === undefined || entry.changedSeq !== seq) return;
  const found = pristineCopy(entry.version);
  const existing = s.conflicts.get(path);
  if (found !== null) {
    const sameLoser = existing !== undefined && sameVector(existing.loser, found.loser) && sameStamp(existing.loser, found.loser);
    setConflict(s, found.path, path, found.loser, sameLoser ? existing.detectedSeq : seq);
  } else if (existing !== undefined) {
    s.conflicts.delete(path);
    s.dirty.add(projectionPrefixes.conflicts + path);
  }
  for (const c of s.conflicts.values()) if (c.path === path) setConflict(s, c.path, c.copyPath, c.loser, c.detectedSeq);
}

function setConflict(s: State, path: SyncPath, copyPath: SyncPath, loser: FileVersion, detectedSeq: number): void {
  const winner = s.files.get(path)?.version ?? loser;
  s.conflicts.set(copyPath, { path, copyPath, winner, loser, rule: pickWinner(winner, loser).rule, detectedSeq });
  s.dirty.add(projectionPrefixes.conflicts + copyPath);
}

// ------------------------------------------------------------------ transfers

interface TransferChange {
  readonly sources?: readonly PeerId[];
  readonly blocksDone?: number;
  readonly state?: TransferState;
  readonly reason?: string | null;
}

/** `t` with `c` applied; a literal for the same reason as changedPeer (once per verified block). */
const changedTransfer = (t: TransferEntry, c: TransferChange): TransferEntry => ({
  path: t.path,
  version: t.version,
  sources: c.sources ?? t.sources,
  blocksDone: c.blocksDone ?? t.blocksDone,
  blocksTotal: t.blocksTotal,
  state: c.state ?? t.state,
  reason: c.reason === undefined ? t.reason : c.reason,
  startedSeq: t.startedSeq,
});

function setTransfer(s: State, t: TransferEntry): void {
  s.transfers.set(t.path, t);
  s.dirty.add(projectionPrefixes.transfers + t.path);
  noteCounter(s, t.version);
}

function dropTransfer(s: State, path: string): void {
  if (s.transfers.delete(path)) s.dirty.add(projectionPrefixes.transfers + path);
}

function evolveTransfers(s: State, e: EnvelopedEvent): void {
  switch (e.type) {
    case 'VersionAccepted': {
      const { path, version, from } = e.data;
      const t = s.transfers.get(path);
      if (t !== undefined && sameStamp(t.version, version) && sameVector(t.version, version)) {
        if (!t.sources.includes(from)) setTransfer(s, changedTransfer(t, { sources: [...t.sources, from] }));
        return;
      }
      // Peers that announced the version this one replaces can serve its blocks when they are the same
      // (a conflict copy we made of content a peer holds at that path): blocks are asked for by hash.
      const carried = t !== undefined && sameBlocks(t.version, version) ? t.sources.filter((p) => p !== from) : [];
      setTransfer(s, {
        path, version, sources: [from, ...carried], blocksDone: 0, blocksTotal: version.deleted ? 0 : version.blocks.length,
        state: 'downloading', reason: null, startedSeq: e.seq,
      });
      return;
    }
    case 'BlockVerified': {
      const t = s.transfers.get(e.data.path);
      if (t !== undefined) setTransfer(s, changedTransfer(t, { blocksDone: Math.min(t.blocksTotal, t.blocksDone + 1), state: 'downloading', reason: null }));
      return;
    }
    case 'TransferFailed': {
      const t = s.transfers.get(e.data.path);
      if (t !== undefined) setTransfer(s, changedTransfer(t, { state: 'failed', reason: `${e.data.code}: ${e.data.reason}` }));
      return;
    }
    case 'FileCommitted':
    case 'VersionsMerged': {
      const t = s.transfers.get(e.data.path);
      if (t !== undefined && !isNewer(t.version, e.data.version)) dropTransfer(s, e.data.path);
      return;
    }
    case 'ConflictDetected': {
      // The version being fetched lost a conflict: the winner (or a copy) is fetched instead.
      const t = s.transfers.get(e.data.path);
      if (t !== undefined && sameVector(t.version, e.data.loser) && sameStamp(t.version, e.data.loser)) dropTransfer(s, e.data.path);
      return;
    }
    case 'VersionSuperseded': {
      const t = s.transfers.get(e.data.path);
      if (e.data.reason === 'lost' && t !== undefined && sameVector(t.version, e.data.version) && sameStamp(t.version, e.data.version)) dropTransfer(s, e.data.path);
      return;
    }
    case 'LocalFileChanged': case 'LocalFileDeleted':
      dropIfDominated(s, e.data.path);
      return;
    case 'LocalFileMoved':
      dropIfDominated(s, e.data.from);
      dropIfDominated(s, e.data.to);
      return;
    case 'NetworkCreated': case 'NetworkJoined': case 'NetworkLeft': case 'ResolveRequested':
    case 'ScanFinished': case 'MessageReceived': case 'PeerConnected': case 'PeerDisconnected': case 'PeerLearned':
    case 'PeerLost': case 'BlockRejected': case 'TimerFired': case 'ConflictResolved':
      return;
    default:
      unreachable(e);
  }
}

/** A local change that has seen everything the transfer would bring makes it moot. */
function dropIfDominated(s: State, path: string): void {
  const t = s.transfers.get(path);
  const f = s.files.get(path);
  if (t !== undefined && f !== undefined && dominates(f.version.vv, t.version.vv)) dropTransfer(s, path);
}

/** Two file versions made of the same blocks (whatever their mode or vector). */
function sameBlocks(a: FileVersion, b: FileVersion): boolean {
  return !a.deleted && !b.deleted && a.type === 'file' && b.type === 'file' && a.blockSizeBytes === b.blockSizeBytes && sameBlockList(a.blocks, b.blocks);
}

const sameStamp = (a: FileVersion, b: FileVersion): boolean => a.hlc.wallMs === b.hlc.wallMs && a.hlc.counter === b.hlc.counter;

function sameVector(a: FileVersion, b: FileVersion): boolean {
  const ka = Object.keys(a.vv);
  return ka.length === Object.keys(b.vv).length && ka.every((k) => a.vv[k] === b.vv[k]);
}

/** True when `wanted` has something `committed` lacks (the transfer is still needed). */
function isNewer(wanted: FileVersion, committed: FileVersion): boolean {
  const m = merge(wanted.vv, committed.vv);
  return Object.keys(m).some((k) => (committed.vv[k] ?? 0) < (m[k] ?? 0));
}
