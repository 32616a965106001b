/**
 * The real ports: SHA-256 agrees with a known vector, event ids are UUID v7
 * with the given time in their first 48 bits, message ids are UUIDs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isEventId, isMessageId } from '../../../src/core/ids.js';
import { nodeHasher, nodeIds } from '../../../src/store/node-ports.js';

describe('node ports', () => {
  it('hashes with SHA-256, strings as UTF-8', () => {
    assert.equal(nodeHasher.sha256('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(nodeHasher.sha256('é'), nodeHasher.sha256(Buffer.from('é', 'utf8')));
    // Long strings (past the reused encoding buffer) and astral characters (4 UTF-8 bytes, 2 UTF-16 units).
    const long = `${'x'.repeat(70_000)}😀é`;
    assert.equal(nodeHasher.sha256(long), createHash('sha256').update(Buffer.from(long, 'utf8')).digest('hex'));
    assert.equal(nodeHasher.sha256('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'after growing');
  });

  it('makes UUID v7 event ids carrying their time, all distinct', () => {
    const times = [0, 1, 1_700_000_000_123, 2 ** 48 - 1];
    const ids = new Set<string>();
    for (const nowMs of times) {
      for (let i = 0; i < 500; i++) {
        const id = nodeIds.eventId(nowMs);
        assert.ok(isEventId(id), id);
        assert.equal(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16), nowMs);
        ids.add(id);
      }
    }
    assert.equal(ids.size, times.length * 500);
    assert.ok(nodeIds.eventId(1000) < nodeIds.eventId(1001), 'ids sort by time');
  });

  it('makes message ids that are UUIDs', () => {
    const a = nodeIds.messageId();
    assert.ok(isMessageId(a));
    assert.notEqual(a, nodeIds.messageId());
  });
});
