/**
 * The record codec round-trips every event type exactly, and the stored hash
 * is the SHA-256 of the body that links to the previous record.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Seq } from '../../src/core/ids.js';
import { decodeRecord, encodeRecord } from '../../src/events/codec.js';
import { currentVersions, eventTypes, type PendingEvent } from '../../src/events/types.js';
import { nodeHasher } from '../../src/store/node-ports.js';
import { blockHashArb, eventArbitraries, loggedMessageArbitraries, peerIdArb, pendingEventArb } from './arbitraries.js';

const seqArb = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });

describe('record codec', () => {
  for (const type of eventTypes) {
    it(`round-trips ${type}`, () => {
      fc.assert(
        fc.property(pendingEventArb(eventArbitraries()[type]), seqArb, blockHashArb, (pending, seq, prev) => {
          const { value, hash } = encodeRecord(pending, seq as Seq, prev, nodeHasher);
          assert.equal(value.slice(0, 64), hash);
          assert.equal(nodeHasher.sha256(value.slice(64)), hash);
          const decoded = decodeRecord(value);
          assert.deepEqual(decoded, { ...pending, seq, v: currentVersions[type], prev, hash });
        }),
        { numRuns: 60 },
      );
    });
  }

  it('round-trips every logged protocol message inside MessageReceived', () => {
    const messages = loggedMessageArbitraries();
    for (const arb of Object.values(messages)) {
      fc.assert(
        fc.property(pendingEventArb(), peerIdArb, arb, (envelope, from, message) => {
          const event: PendingEvent = { type: 'MessageReceived', data: { from, message }, id: envelope.id, hlc: envelope.hlc, peer: envelope.peer };
          const { value } = encodeRecord(event, 7 as Seq, '0'.repeat(64), nodeHasher);
          assert.deepEqual(decodeRecord(value).data, event.data);
        }),
        { numRuns: 25 },
      );
    }
  });
});
