import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BlockHash, EventId, MessageId, PeerId } from '../../../src/core/ids.js';
import type { SyncPath } from '../../../src/core/path.js';
import type { EnvelopedEvent, Event } from '../../../src/events/types.js';
import type { FileVersion } from '../../../src/events/version.js';
import { evolve, initialState } from '../../../src/projections/state.js';

const self = 'aaaaaaaaaaaaaaaa' as PeerId;
const peer = 'bbbbbbbbbbbbbbbb' as PeerId;
const path = 'README.ploppy-conflict-20260101-000001-bbbbbbbb' as SyncPath;
const block = 'ab'.repeat(32) as BlockHash;

const version = (vv: Record<string, number>, blocks: BlockHash[] = [block]): FileVersion => ({
  path, type: 'file', mode: 6, size: 10, mtimeMs: 1, blockSizeBytes: 131072, blocks, deleted: false, vv,
  hlc: { wallMs: 1_000 + Object.values(vv).reduce((a, b) => a + b, 0), counter: 0 }, author: self,
});

test('a transfer replaced by a version of the same blocks keeps the peers that can serve them', () => {
  // Seed 18931: a peer's own conflict copy replaced the copy another peer had announced at that
  // path, with the same content; when its local copy failed it had nobody to ask for the block.
  const s = initialState();
  let seq = 0;
  const fold = (e: Event): void => void evolve(s, { ...e, seq: ++seq, id: `e${seq}` as EventId, hlc: { wallMs: 1, counter: seq }, peer: self, v: 1 } as EnvelopedEvent);
  const message = '00000000-0000-4000-8000-000000000001' as MessageId;
  fold({ type: 'VersionAccepted', data: { path, version: version({ [peer]: 1 }), from: peer, message } });
  fold({ type: 'VersionAccepted', data: { path, version: version({ [self]: 5, [peer]: 3 }), from: self, message } });
  assert.deepEqual(s.transfers.get(path)?.sources, [self, peer]);
  fold({ type: 'VersionAccepted', data: { path, version: version({ [self]: 6, [peer]: 3 }, ['cd'.repeat(32) as BlockHash]), from: self, message } });
  assert.deepEqual(s.transfers.get(path)?.sources, [self], 'other blocks: the earlier sources cannot serve them');
});
