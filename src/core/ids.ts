/**
 * Branded identifiers with checked constructors. A brand stops a PeerId being
 * passed where a path is wanted; the constructor checks the shape once, at the
 * edge, so the rest of the code can trust it.
 */
import { PloppyError } from './errors.js';

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A peer id: 16 lowercase hex characters (64 random bits, chosen at create/join). */
export type PeerId = Brand<string, 'PeerId'>;
/** An event id: a UUID v7 string. */
export type EventId = Brand<string, 'EventId'>;
/** A protocol message id: a UUID string (any version). */
export type MessageId = Brand<string, 'MessageId'>;
/** A gapless log sequence number, starting at 1. */
export type Seq = Brand<number, 'Seq'>;
/** A SHA-256 digest, 64 lowercase hex characters. */
export type BlockHash = Brand<string, 'BlockHash'>;

const peerIdPattern = /^[0-9a-f]{16}$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const uuidV7Pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const hashPattern = /^[0-9a-f]{64}$/;

export const isPeerId = (s: unknown): s is PeerId => typeof s === 'string' && peerIdPattern.test(s);
export const isMessageId = (s: unknown): s is MessageId => typeof s === 'string' && uuidPattern.test(s);
export const isEventId = (s: unknown): s is EventId => typeof s === 'string' && uuidV7Pattern.test(s);
export const isBlockHash = (s: unknown): s is BlockHash => typeof s === 'string' && hashPattern.test(s);
export const isSeq = (n: unknown): n is Seq => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

function check<T>(ok: boolean, what: string, value: unknown): T {
  if (!ok) throw new PloppyError('EVENT_INVALID', `not a valid ${what}: ${JSON.stringify(value)}`);
  return value as T;
}

export const peerId = (s: string): PeerId => check<PeerId>(isPeerId(s), 'peer id', s);
export const messageId = (s: string): MessageId => check<MessageId>(isMessageId(s), 'message id', s);
export const eventId = (s: string): EventId => check<EventId>(isEventId(s), 'event id', s);
export const blockHash = (s: string): BlockHash => check<BlockHash>(isBlockHash(s), 'block hash', s);
export const seq = (n: number): Seq => check<Seq>(isSeq(n), 'sequence number', n);

/** The first eight characters of a peer id, as used in conflict-copy names. */
export const shortPeer = (p: PeerId): string => p.slice(0, 8);
