/**
 * The real implementations of the core's ports, for the daemon and the CLI:
 * node:crypto for SHA-256, the uuid package for UUID v7 event ids.
 *
 * Both sit on the append path of every event, so they avoid per-call setup:
 * `crypto.hash` is the one-shot digest (about twice as fast as createHash for
 * a record), and event ids draw their random bits from a pool refilled 4 KiB
 * at a time (uuid's own source costs a getRandomValues call per id).
 */
import { hash, randomBytes, randomFillSync } from 'node:crypto';
import { v4 as uuidv4, v7 as uuidv7 } from 'uuid';
import type { BlockHash, EventId, MessageId } from '../core/ids.js';
import type { Hasher, IdSource } from '../core/ports.js';

export const nodeHasher: Hasher = {
  sha256: (data) => hash('sha256', data, 'hex') as BlockHash,
};

const randomPool = Buffer.allocUnsafe(4096);
let randomPoolOffset = randomPool.length;

/** 16 fresh random bytes from the pool (copied: uuid may keep what it is given). */
function random16(): Uint8Array {
  if (randomPoolOffset + 16 > randomPool.length) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const out = new Uint8Array(16);
  out.set(randomPool.subarray(randomPoolOffset, randomPoolOffset + 16));
  randomPoolOffset += 16;
  return out;
}

export const nodeIds: IdSource = {
  eventId: (nowMs) => uuidv7({ msecs: nowMs, random: random16() }) as EventId,
  messageId: () => uuidv4() as MessageId,
};

/** A fresh random peer id (64 bits, hex). */
export const randomPeerId = (): string => randomBytes(8).toString('hex');
