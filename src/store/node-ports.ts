/**
 * The real implementations of the core's ports, for the daemon and the CLI:
 * node:crypto for SHA-256 and randomness, UUID v7 event ids formatted here.
 *
 * Both sit on the append path of every event, so they avoid per-call setup:
 * `crypto.hash` is the one-shot digest (about twice as fast as createHash for
 * a record), and event ids draw their random bits from a pool refilled 4 KiB
 * at a time (the uuid package costs a getRandomValues call and a rope of
 * string pieces per id).
 */
import { hash, randomBytes, randomFillSync, randomUUID } from 'node:crypto';
import type { BlockHash, EventId, MessageId } from '../core/ids.js';
import type { Hasher, IdSource } from '../core/ports.js';

/** Where strings are encoded for hashing (grown for a longer one). */
let hashScratch = Buffer.allocUnsafe(64 * 1024);

/**
 * SHA-256 of a string's UTF-8 bytes. Encoding into a reused buffer and
 * hashing those bytes is about twice as fast for a record as handing
 * `crypto.hash` the string, which encodes it on a slower path.
 */
function sha256OfString(s: string): BlockHash {
  // s.length * 3 bounds the UTF-8 length without measuring it.
  if (s.length * 3 > hashScratch.length) hashScratch = Buffer.allocUnsafe(s.length * 3);
  const n = hashScratch.write(s, 0, 'utf8');
  return hash('sha256', hashScratch.subarray(0, n), 'hex') as BlockHash;
}

export const nodeHasher: Hasher = {
  sha256: (data) => (typeof data === 'string' ? sha256OfString(data) : (hash('sha256', data, 'hex') as BlockHash)),
};

const randomPool = Buffer.allocUnsafe(4096);
let randomPoolOffset = randomPool.length;

/** Where `n` fresh random bytes start in the pool (refilled from the OS when used up). */
function randomBytesAt(n: number): number {
  if (randomPoolOffset + n > randomPool.length) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  randomPoolOffset += n;
  return randomPoolOffset - n;
}

const hexCodes = Buffer.from('0123456789abcdef', 'latin1');
const uuidText = Buffer.alloc(36, '-');
/** Where the two hex digits of each of the 16 bytes go in the 36-character form. */
const uuidDigitAt = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

function setByte(i: number, byte: number): void {
  const at = uuidDigitAt[i] as number;
  uuidText[at] = hexCodes[byte >> 4] as number;
  uuidText[at + 1] = hexCodes[byte & 15] as number;
}

/**
 * A UUID v7 (RFC 9562): 48 bits of Unix milliseconds, the version, 74 random
 * bits. Formatted into one scratch buffer, so each id is a single flat string.
 */
let uuidMs = -1;

function uuidV7(nowMs: number): string {
  const ms = Math.max(0, Math.floor(nowMs));
  // Ids come in bursts within one millisecond: the time digits from the last id still stand.
  if (ms !== uuidMs) {
    for (let i = 0; i < 6; i++) setByte(i, Math.floor(ms / 2 ** (8 * (5 - i))) & 0xff);
    uuidMs = ms;
  }
  const r = randomBytesAt(10);
  setByte(6, 0x70 | ((randomPool[r] as number) & 0x0f));
  setByte(7, randomPool[r + 1] as number);
  setByte(8, 0x80 | ((randomPool[r + 2] as number) & 0x3f));
  for (let i = 9; i < 16; i++) setByte(i, randomPool[r + i - 6] as number);
  return uuidText.toString('latin1');
}

export const nodeIds: IdSource = {
  eventId: (nowMs) => uuidV7(nowMs) as EventId,
  messageId: () => randomUUID() as MessageId,
};

/** A fresh random peer id (64 bits, hex). */
export const randomPeerId = (): string => randomBytes(8).toString('hex');
