/**
 * The engine's contract with its drivers (the daemon and the simulator).
 *
 * The engine is sans-IO (quinn-proto, h11): `handle(input, nowMs)` returns
 * outputs as plain values and never touches a socket, a file, the clock or a
 * random source. Drivers execute outputs in order, with one rule: an `append`
 * output must be durable before any later `send`/`fs` output of the same
 * handle() call takes effect (the log is written first).
 *
 * Events in `append` are already stamped (seq, id, hlc, peer, v): the engine
 * folds them into its State as it decides, so the state it decides on is
 * exactly the fold of the log. The log adds the hash chain and persists the
 * state's dirty keys in the same batch (EventLog.write).
 */
import type { ErrorCode } from '../core/errors.js';
import type { BlockHash, PeerId } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import type { Hasher, IdSource } from '../core/ports.js';
import type { WireMessage } from '../events/messages.js';
import type { EnvelopedEvent, Event, LocalObservation, ResolveKeep } from '../events/types.js';
import type { FileVersion } from '../events/version.js';
import type { State } from '../projections/state.js';

export type TimerId = string;
export type EffectId = string;

/** An event with its envelope but before the log links it into the hash chain. */
export type StampedEvent<E extends Event = Event> = EnvelopedEvent<E>;

export type LocalChange =
  | { kind: 'changed'; observation: LocalObservation }
  | { kind: 'deleted'; path: SyncPath }
  | { kind: 'moved'; from: SyncPath; to: SyncPath }
  | { kind: 'scanFinished'; files: number; bytes: number };

export type CliCommand =
  | { kind: 'create'; networkId: string; name: string; peer: PeerId; dir: string; admin?: string }
  | { kind: 'join'; name: string; peer: PeerId; dir: string; via: string }
  | { kind: 'leave'; deleteDir: boolean }
  | { kind: 'resolve'; path: SyncPath; keep: ResolveKeep };

export type Input =
  | { kind: 'received'; from: PeerId; msg: WireMessage }
  | { kind: 'local'; change: LocalChange }
  | { kind: 'timer'; timer: TimerId }
  | { kind: 'effectDone'; effect: EffectId; result: EffectResult }
  | { kind: 'connected'; peer: PeerId; address: string; direction: 'in' | 'out' }
  | { kind: 'disconnected'; peer: PeerId; reason: string }
  | { kind: 'command'; command: CliCommand };

export type EffectResult =
  | { ok: true }
  | { ok: false; code: ErrorCode; message: string };

/**
 * File-system operations. Paths are relative to the shared folder; the driver
 * refuses anything that would escape it. `expect` is the version the engine
 * believes is on disk at `path` (null: nothing): the driver rescans and fails
 * with FS_ERROR/'changed on disk' instead of overwriting a file that changed
 * since it was scanned.
 */
export type FsOp =
  /** Write verified bytes for the given block indices into the temp file of (path, version). */
  | { op: 'writeBlock'; path: SyncPath; version: FileVersion; indices: readonly number[]; hash: BlockHash; data: Uint8Array }
  /** Copy a block that already exists in a local file into the temp file of (path, version). */
  | { op: 'copyBlock'; path: SyncPath; version: FileVersion; indices: readonly number[]; hash: BlockHash; fromPath: SyncPath; fromOffset: number; length: number }
  /**
   * Keep a block an interrupted transfer already wrote: after a restart, the
   * temp file of (path, version) may hold it at `indices`. The driver reads
   * and hashes them there and succeeds only if every one is `hash`, without
   * creating or changing anything (a missing temp file is a failure).
   */
  | { op: 'keepBlock'; path: SyncPath; version: FileVersion; indices: readonly number[]; hash: BlockHash }
  /** Verify the temp file against version.blocks, fsync, rename into place, apply mode and mtime. */
  | { op: 'commitFile'; path: SyncPath; version: FileVersion; expect: FileVersion | null }
  | { op: 'makeDirectory'; path: SyncPath; version: FileVersion; expect: FileVersion | null }
  | { op: 'makeSymlink'; path: SyncPath; version: FileVersion; expect: FileVersion | null }
  | { op: 'remove'; path: SyncPath; version: FileVersion; expect: FileVersion | null }
  /**
   * Move the file at `from` to `to`: an IMOVED done as a local rename. (A
   * conflict loser is kept by copying its blocks into the copy path and
   * committing that, so the loser stays readable at its path until the winner
   * replaces it.)
   */
  | { op: 'move'; from: SyncPath; to: SyncPath; version: FileVersion; expect: FileVersion | null }
  /**
   * Serve a peer's IWANT: the driver reads the bytes, checks them against `hash`
   * and sends HEREIS to `forPeer` itself (block bytes never pass through the
   * engine or the log). If they no longer match, it sends DONTHAVE and fails
   * the effect, so the engine rescans.
   */
  | { op: 'readBlock'; path: SyncPath; offset: number; length: number; hash: BlockHash; forPeer: PeerId }
  /** Ask the driver to rescan a path (or '' for everything) and report what it finds as local changes. */
  | { op: 'rescan'; path: SyncPath | '' };

/**
 * What the driver does with each output:
 * - `setTimer`: a later setTimer with the same id replaces the pending one
 *   (the engine uses 'tick', every pingIntervalMs, and 'reconnect'); when it
 *   fires, feed `{ kind: 'timer', timer }`.
 * - `fs`: run the op and feed its outcome as `effectDone` with the same
 *   effect id, ok or not (readBlock included: the engine counts a peer's
 *   reads in flight). A refusal because the path changed since the engine
 *   last saw it must say 'changed on disk' in its message (the engine then
 *   asks for a rescan); a directory that cannot go because it holds entries
 *   fails with DIR_NOT_EMPTY. Parent directories of a committed path are
 *   created as needed.
 * - `connect`: dial the address (it may be asked again on the engine's
 *   backoff schedule; a dial to an address already connected is harmless).
 *   On success feed `connected` then `received HELLO`; on failure nothing.
 * - `disconnect`: close the connection and then feed `disconnected` for it,
 *   as for any connection that ends (at most one live connection per peer).
 */
export type Output =
  | { kind: 'append'; events: readonly StampedEvent[] }
  | { kind: 'send'; to: PeerId; msg: WireMessage }
  | { kind: 'fs'; effect: EffectId; op: FsOp }
  | { kind: 'setTimer'; timer: TimerId; atMs: number }
  | { kind: 'connect'; address: string }
  | { kind: 'disconnect'; peer: PeerId; reason: string };

export interface EngineDeps {
  readonly hasher: Hasher;
  readonly ids: IdSource;
}

export interface Engine {
  /** The projections the engine decides on (the fold of everything it appended). */
  readonly state: State;
  handle(input: Input, nowMs: number): Output[];
}
