/**
 * Deterministic events for store tests: fixed peers, paths and hashes, and an
 * IdSource that counts instead of drawing random bits.
 */
import type { BlockHash, EventId, MessageId, PeerId } from '../../../src/core/ids.js';
import type { SyncPath } from '../../../src/core/path.js';
import type { IdSource } from '../../../src/core/ports.js';
import type { StampedEvent } from '../../../src/engine/types.js';
import type { Event } from '../../../src/events/types.js';
import type { FileVersion } from '../../../src/events/version.js';
import { initialState, type State } from '../../../src/projections/state.js';
import { stampEvents, type StampContext } from '../../../src/store/append.js';

export const self = 'a0a0a0a0a0a0a0a0' as PeerId;
export const other = 'b1b1b1b1b1b1b1b1' as PeerId;
export const hashOf = (n: number): BlockHash => n.toString(16).padStart(64, '0') as BlockHash;

/** UUID v7-shaped ids from a counter: deterministic, valid, distinct. */
export function countingIds(): IdSource {
  let n = 0;
  const hex = (width: number): string => (n++).toString(16).padStart(width, '0').slice(-width);
  return {
    eventId: (nowMs) => `${nowMs.toString(16).padStart(12, '0').slice(-12).replace(/(.{8})(.{4})/, '$1-$2')}-7${hex(3)}-8${hex(3)}-${hex(12)}` as EventId,
    messageId: () => `00000000-0000-4000-8000-${hex(12)}` as MessageId,
  };
}

const versionOf = (path: SyncPath, n: number): FileVersion => ({
  path, type: 'file', mode: 6, size: n * 10, mtimeMs: 1000 + n, blockSizeBytes: 131072, blocks: [hashOf(n)],
  deleted: false, vv: { [other]: n }, hlc: { wallMs: 1_700_000_000_000 + n, counter: 0 }, author: other,
});

/** The `i`-th event of a varied, deterministic stream touching files, peers, transfers and conflicts. */
export function sampleEvent(i: number): Event {
  const path = `dir/file-${i % 5}.txt` as SyncPath;
  switch (i % 8) {
    case 0: return { type: 'LocalFileChanged', data: { path, type: 'file', mode: 6, size: i, mtimeMs: i, blockSizeBytes: 131072, blocks: [hashOf(i)] } };
    case 1: return { type: 'PeerConnected', data: { peer: other, address: `127.0.0.1:${7000 + i}`, direction: 'out' } };
    case 2: return { type: 'MessageReceived', data: { from: other, message: { cmd: 'IHAVE', id: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}` as MessageId, files: [versionOf(path, i)], upTo: i } } };
    case 3: return { type: 'VersionAccepted', data: { path, version: versionOf(path, i), from: other, message: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}` as MessageId } };
    case 4: return { type: 'BlockVerified', data: { path, hash: hashOf(i), from: other, size: 10 } };
    case 5: return { type: 'FileCommitted', data: { path, version: versionOf(path, i) } };
    case 6: return { type: 'ConflictDetected', data: { path, winner: versionOf(path, i), loser: versionOf(path, i + 1), copyPath: `${path}.conflict-${i}` as SyncPath, rule: 'later-hlc', from: other } };
    default: return { type: 'LocalFileDeleted', data: { path } };
  }
}

export const sampleEvents = (from: number, count: number): Event[] => Array.from({ length: count }, (_, k) => sampleEvent(from + k));

/** Stamping for tests: this peer, a fixed clock, counting ids. */
export const stampContext = (ids: IdSource = countingIds(), nowMs = 1_700_000_000_000): StampContext => ({ peer: self, nowMs, ids });

/** A writer's view for tests: a state and the context to stamp with. */
export interface Recorder {
  readonly state: State;
  readonly ctx: StampContext;
  stamp(events: readonly Event[], headSeq: number): StampedEvent[];
}

export function recorder(): Recorder {
  const state = initialState();
  const ctx = stampContext();
  return { state, ctx, stamp: (events, headSeq) => stampEvents(headSeq, state.meta.hlc, events, ctx) };
}
