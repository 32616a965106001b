/**
 * The real implementations of the core's ports, for the daemon and the CLI:
 * node:crypto for SHA-256, the uuid package for UUID v7 event ids.
 */
import { createHash, randomBytes } from 'node:crypto';
import { v4 as uuidv4, v7 as uuidv7 } from 'uuid';
import type { BlockHash, EventId, MessageId } from '../core/ids.js';
import type { Hasher, IdSource } from '../core/ports.js';

export const nodeHasher: Hasher = {
  sha256: (data) => createHash('sha256').update(data).digest('hex') as BlockHash,
};

export const nodeIds: IdSource = {
  eventId: (nowMs) => uuidv7({ msecs: nowMs }) as EventId,
  messageId: () => uuidv4() as MessageId,
};

/** A fresh random peer id (64 bits, hex). */
export const randomPeerId = (): string => randomBytes(8).toString('hex');
