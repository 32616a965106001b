/**
 * Ports: what the pure core needs from the outside world, as small interfaces.
 * The daemon passes real implementations (node:crypto, uuid); the simulator
 * passes seeded ones. Nothing in the core constructs these itself.
 */
import type { BlockHash, EventId, MessageId } from './ids.js';

/** SHA-256, hex encoded. */
export interface Hasher {
  sha256(data: Uint8Array | string): BlockHash;
}

/** Fresh identifiers. Event ids are UUID v7 built from the given time. */
export interface IdSource {
  eventId(nowMs: number): EventId;
  messageId(): MessageId;
}
