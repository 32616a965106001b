/**
 * Seeded identifiers for simulated peers: UUID-shaped strings built from the
 * run's random stream (v7 for events, with the given time in the top 48 bits;
 * v4 for messages), and 64-bit peer ids. Same seed, same ids.
 */
import { peerId, type EventId, type MessageId, type PeerId } from '../core/ids.js';
import type { IdSource } from '../core/ports.js';
import type { Rng } from '../core/rng.js';

const hexByte = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
const hex = (bytes: Uint8Array): string => {
  let s = '';
  for (const b of bytes) s += hexByte[b] as string;
  return s;
};

const hx = (b: Uint8Array, i: number): string => hexByte[b[i] as number] as string;

/** The 8-4-4-4-12 form, straight from the bytes (one string built per id: ids are made per event and message). */
function uuidFrom(b: Uint8Array): string {
  return `${hx(b, 0)}${hx(b, 1)}${hx(b, 2)}${hx(b, 3)}-${hx(b, 4)}${hx(b, 5)}-${hx(b, 6)}${hx(b, 7)}-${hx(b, 8)}${hx(b, 9)}-${hx(b, 10)}${hx(b, 11)}${hx(b, 12)}${hx(b, 13)}${hx(b, 14)}${hx(b, 15)}`;
}

/** A UUID v7 string: 48 bits of milliseconds, then version, variant and randomness. */
export function uuidV7(nowMs: number, rng: Rng): string {
  const b = rng.bytes(16);
  const ms = Math.max(0, Math.floor(nowMs));
  const high = Math.floor(ms / 2 ** 32);
  const low = ms >>> 0;
  b[0] = (high >>> 8) & 0xff;
  b[1] = high & 0xff;
  b[2] = (low >>> 24) & 0xff;
  b[3] = (low >>> 16) & 0xff;
  b[4] = (low >>> 8) & 0xff;
  b[5] = low & 0xff;
  b[6] = 0x70 | ((b[6] as number) & 0x0f);
  b[8] = 0x80 | ((b[8] as number) & 0x3f);
  return uuidFrom(b);
}

/** A UUID v4 string from the stream. */
export function uuidV4(rng: Rng): string {
  const b = rng.bytes(16);
  b[6] = 0x40 | ((b[6] as number) & 0x0f);
  b[8] = 0x80 | ((b[8] as number) & 0x3f);
  return uuidFrom(b);
}

export function seededIds(rng: Rng): IdSource {
  return {
    eventId: (nowMs) => uuidV7(nowMs, rng) as EventId,
    messageId: () => uuidV4(rng) as MessageId,
  };
}

export const seededPeerId = (rng: Rng): PeerId => peerId(hex(rng.bytes(8)));
