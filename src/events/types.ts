/**
 * The event union: every input ploppy acts on, and every decision it takes,
 * written down before anything acts on it (DESIGN.md, "The one rule").
 *
 * Groups:
 * - commands given through the CLI (network created, joined, left; resolve);
 * - local observations (a file or directory changed, deleted, moved; scan done);
 * - received protocol messages (validated; block bytes never logged);
 * - peer lifecycle (connected, disconnected, learned about, lost);
 * - effect outcomes (block verified / rejected, file committed, transfer failed);
 * - timers;
 * - decisions (version accepted / superseded / merged, conflict detected / resolved).
 *
 * Each type has a schema version in `currentVersions`; older versions are read
 * through `upcasters` in codec.ts.
 */
import type { Hlc } from '../core/hlc.js';
import type { BlockHash, EventId, MessageId, PeerId, Seq } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import type { LoggedMessage } from './messages.js';
import type { FileType, FileVersion } from './version.js';

/**
 * Why the winner of two concurrent versions won. 'directory-beats-file': a
 * directory and a file (or symlink) at one path, the directory wins because
 * its children cannot live under a file; the file is kept as the copy.
 */
export type ConflictRule = 'later-hlc' | 'larger-peer-id' | 'modify-beats-delete' | 'directory-beats-file';
export type ResolveKeep = 'winner' | 'other' | 'both';

export interface LocalObservation {
  readonly path: SyncPath;
  readonly type: FileType;
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly blockSizeBytes: number;
  readonly blocks: readonly BlockHash[];
  readonly target?: string;
}

export type Event =
  // commands
  | { type: 'NetworkCreated'; data: { networkId: string; name: string; peer: PeerId; dir: string; admin?: string } }
  | { type: 'NetworkJoined'; data: { name: string; peer: PeerId; dir: string; via: string } }
  | { type: 'NetworkLeft'; data: { deleteDir: boolean } }
  | { type: 'ResolveRequested'; data: { path: SyncPath; keep: ResolveKeep } }
  // local observations
  | { type: 'LocalFileChanged'; data: LocalObservation }
  | { type: 'LocalFileDeleted'; data: { path: SyncPath } }
  | { type: 'LocalFileMoved'; data: { from: SyncPath; to: SyncPath } }
  | { type: 'ScanFinished'; data: { files: number; bytes: number } }
  // received protocol messages
  /** `duplicate`: the message's id had been seen already; recorded, but nothing is decided or done on it again. */
  | { type: 'MessageReceived'; data: { from: PeerId; message: LoggedMessage; duplicate?: true } }
  // peer lifecycle
  | { type: 'PeerConnected'; data: { peer: PeerId; address: string; direction: 'in' | 'out' } }
  | { type: 'PeerDisconnected'; data: { peer: PeerId; reason: string } }
  | { type: 'PeerLearned'; data: { peer: PeerId; address: string; via: PeerId; direct: boolean } }
  | { type: 'PeerLost'; data: { peer: PeerId; via: PeerId } }
  // effect outcomes
  | { type: 'BlockVerified'; data: { path: SyncPath; hash: BlockHash; from: PeerId | null; size: number } }
  | { type: 'BlockRejected'; data: { path: SyncPath; hash: BlockHash; from: PeerId; reason: string } }
  | { type: 'FileCommitted'; data: { path: SyncPath; version: FileVersion } }
  | { type: 'TransferFailed'; data: { path: SyncPath; reason: string; code: string } }
  // timers
  | { type: 'TimerFired'; data: { timer: string } }
  // decisions
  | { type: 'VersionAccepted'; data: { path: SyncPath; version: FileVersion; from: PeerId; message: MessageId } }
  /** reason 'lost': the version lost a conflict to what is on disk (a transfer of it stops). */
  | { type: 'VersionSuperseded'; data: { path: SyncPath; version: FileVersion; from: PeerId; message: MessageId; reason: 'older' | 'equal' | 'lost' } }
  | { type: 'VersionsMerged'; data: { path: SyncPath; version: FileVersion; from: PeerId } }
  | { type: 'ConflictDetected'; data: { path: SyncPath; winner: FileVersion; loser: FileVersion; copyPath: SyncPath; rule: ConflictRule; from: PeerId } }
  | { type: 'ConflictResolved'; data: { path: SyncPath; copyPath: SyncPath; keep: ResolveKeep; by: PeerId } };

export type EventType = Event['type'];
export type EventOf<T extends EventType> = Extract<Event, { type: T }>;

/** Current schema version of each event type. Bump with an upcaster in codec.ts. */
export const currentVersions: Readonly<Record<EventType, number>> = {
  NetworkCreated: 1,
  NetworkJoined: 1,
  NetworkLeft: 1,
  ResolveRequested: 1,
  LocalFileChanged: 1,
  LocalFileDeleted: 1,
  LocalFileMoved: 1,
  ScanFinished: 1,
  MessageReceived: 1,
  PeerConnected: 1,
  PeerDisconnected: 1,
  PeerLearned: 1,
  PeerLost: 1,
  BlockVerified: 1,
  BlockRejected: 1,
  FileCommitted: 1,
  TransferFailed: 1,
  TimerFired: 1,
  VersionAccepted: 1,
  VersionSuperseded: 1,
  VersionsMerged: 1,
  ConflictDetected: 1,
  ConflictResolved: 1,
};

export const eventTypes = Object.keys(currentVersions) as EventType[];
export const isEventType = (s: unknown): s is EventType => typeof s === 'string' && Object.hasOwn(currentVersions, s);

/**
 * An event with its envelope (sequence number, UUID v7 id, HLC stamp, the peer
 * that recorded it, schema version) but not yet linked into the hash chain:
 * what the engine folds as it decides, and all that `evolve` reads.
 */
export type EnvelopedEvent<E extends Event = Event> = E & {
  readonly seq: number;
  readonly id: EventId;
  readonly hlc: Hlc;
  readonly peer: PeerId;
  readonly v: number;
};

/**
 * An event as stored: a gapless sequence number, a UUID v7 id, the HLC stamp,
 * the peer that recorded it, its schema version and the hash chain links.
 */
export type RecordedEvent<E extends Event = Event> = E & {
  readonly seq: Seq;
  readonly id: EventId;
  readonly hlc: Hlc;
  readonly peer: PeerId;
  readonly v: number;
  /** SHA-256 of the previous record ('0' x 64 for the first). */
  readonly prev: string;
  /** SHA-256 of this record's body (everything above, `prev` included). */
  readonly hash: string;
};

/** What a writer supplies; the log fills in seq, prev and hash. */
export type PendingEvent<E extends Event = Event> = E & {
  readonly id: EventId;
  readonly hlc: Hlc;
  readonly peer: PeerId;
};

export const genesisHash = '0'.repeat(64);

/** Paths an event concerns (for `ploppy log --path`, explain, touched-keys). */
export function pathsOf(e: Event): SyncPath[] {
  switch (e.type) {
    case 'LocalFileChanged':
    case 'LocalFileDeleted':
    case 'ResolveRequested':
    case 'BlockVerified':
    case 'BlockRejected':
    case 'FileCommitted':
    case 'TransferFailed':
    case 'VersionAccepted':
    case 'VersionSuperseded':
    case 'VersionsMerged':
      return [e.data.path];
    case 'ConflictDetected':
    case 'ConflictResolved':
      return [e.data.path, e.data.copyPath];
    case 'LocalFileMoved':
      return [e.data.from, e.data.to];
    case 'MessageReceived': {
      const m = e.data.message;
      if (m.cmd === 'IHAVE') return m.files.map((f) => f.path);
      if (m.cmd === 'IMOVED') return [m.oldpath, m.newpath];
      if (m.cmd === 'IDELETED') return [m.oldpath];
      if (m.cmd === 'RESOLVED') return [m.path, m.copyPath];
      return [];
    }
    default:
      return [];
  }
}
