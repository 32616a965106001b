/**
 * Shared fixtures for the network tests: one valid message of every command,
 * ids, and small helpers to wait for events on real loopback sockets.
 */
import { Buffer } from 'node:buffer';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { BlockHash, MessageId, PeerId } from '../../../src/core/ids.js';
import type { SyncPath } from '../../../src/core/path.js';
import type { Command, WireMessage } from '../../../src/events/messages.js';
import type { FileVersion } from '../../../src/events/version.js';
import { FrameDecoder, parseFrame } from '../../../src/net/frame.js';
import type { Session } from '../../../src/net/session.js';
import { createTransport, type Transport, type TransportOptions } from '../../../src/net/transport.js';

export const mid = (): MessageId => randomUUID() as MessageId;
export const newPeerId = (): PeerId => randomBytes(8).toString('hex') as PeerId;
export const hashOf = (data: Uint8Array): BlockHash => createHash('sha256').update(data).digest('hex') as BlockHash;
export const fakeHash = (n: number): BlockHash => createHash('sha256').update(`block ${n}`).digest('hex') as BlockHash;

const peerA = 'aaaaaaaaaaaaaaaa' as PeerId;
const peerB = 'bbbbbbbbbbbbbbbb' as PeerId;

export const sampleVersion = (path: string, blocks = 3): FileVersion => ({
  path: path as SyncPath,
  type: 'file',
  mode: 6,
  size: blocks * 131072,
  mtimeMs: 1_700_000_000_000,
  blockSizeBytes: 131072,
  blocks: Array.from({ length: blocks }, (_, i) => fakeHash(i)),
  deleted: false,
  vv: { [peerA]: 3, [peerB]: 1 },
  hlc: { wallMs: 1_700_000_000_123, counter: 2 },
  author: peerA,
});

/** One valid message of every command (HEREIS with `blockBytes` of data). */
export function sampleMessages(blockBytes = 1000): WireMessage[] {
  const block = randomBytes(blockBytes);
  const tombstone = { ...sampleVersion('old/name.txt'), deleted: true, blocks: [], size: 0 };
  const all: WireMessage[] = [
    { cmd: 'HELLO', id: mid(), name: 'family photos', uuid: peerA, address: '127.0.0.1:4000', network: randomUUID() },
    { cmd: 'ICANSEE', id: mid(), via: peerA, peer: { name: 'family photos', uuid: peerB, address: '[::1]:4001' } },
    { cmd: 'IKNOWABOUT', id: mid(), via: peerB, peer: { name: 'family photos', uuid: peerA, address: '10.0.0.2:4002' } },
    { cmd: 'ICANTSEE', id: mid(), via: peerA, uuid: peerB },
    { cmd: 'PING', id: mid() },
    { cmd: 'PONG', id: mid(), ping: mid() },
    { cmd: 'LIST', id: mid(), since: 42 },
    { cmd: 'IHAVE', id: mid(), files: [sampleVersion('a/b/ünïcödé name.txt'), sampleVersion('empty', 0)], upTo: 43 },
    { cmd: 'IMOVED', id: mid(), oldpath: 'old/name.txt' as SyncPath, newpath: 'new/name.txt' as SyncPath, tombstone, version: sampleVersion('new/name.txt'), upTo: 44 },
    { cmd: 'IDELETED', id: mid(), oldpath: 'gone.txt' as SyncPath, version: { ...tombstone, path: 'gone.txt' as SyncPath }, upTo: 45 },
    { cmd: 'RESOLVED', id: mid(), path: 'doc.txt' as SyncPath, copyPath: 'doc.ploppy-conflict-20240101-000000-bbbbbbbb.txt' as SyncPath, keep: 'both', by: peerA },
    { cmd: 'IWANT', id: mid(), hashes: [fakeHash(1), fakeHash(2)] },
    { cmd: 'HEREIS', id: mid(), hash: hashOf(block), data: block },
    { cmd: 'DONTHAVE', id: mid(), hashes: [fakeHash(3)] },
    { cmd: 'SEARCH', id: mid(), origin: peerB, query: 'holiday', hops: 3 },
    { cmd: 'FOUND', id: mid(), search: mid(), peer: peerA, matches: [{ path: 'holiday.jpg' as SyncPath, size: 5, blocks: [fakeHash(9)] }] },
    { cmd: 'ERROR', id: mid(), code: 'PEER_BAD_FRAME', message: 'byte 0x16 in a command name' },
  ];
  return all;
}

export const everyCommand = (messages: readonly WireMessage[]): Set<Command> => new Set(messages.map((m) => m.cmd));

/** Decode a byte stream fed in the given chunk sizes (cycled); throws what the decoder throws. */
export function decodeAll(bytes: Buffer, chunkSizes: readonly number[] = [bytes.length || 1]): WireMessage[] {
  const decoder = new FrameDecoder();
  const out: WireMessage[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = Math.max(1, chunkSizes[i % chunkSizes.length] ?? 1);
    for (const frame of decoder.feed(bytes.subarray(at, at + size))) out.push(parseFrame(frame));
    at += size;
  }
  return out;
}

/** Messages as plain comparable values (HEREIS data as a Buffer). */
export const comparable = (m: WireMessage): unknown =>
  m.cmd === 'HEREIS' ? { ...m, data: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength) } : m;

// ---------------------------------------------------------------- sockets

export interface TestPeer {
  readonly transport: Transport;
  readonly peerId: PeerId;
  readonly sessions: Session[];
  readonly errors: Error[];
}

/** A transport on 127.0.0.1 with an OS-picked port, recording its sessions and refusals. */
export async function startPeer(options: Partial<TransportOptions> & { networkName?: string } = {}): Promise<TestPeer> {
  const sessions: Session[] = [];
  const errors: Error[] = [];
  const peerId = options.peerId ?? newPeerId();
  const transport = await createTransport({
    networkName: 'testnet',
    listen: '127.0.0.1:0',
    ...options,
    peerId,
    onPeer: (session) => {
      sessions.push(session);
      options.onPeer?.(session);
    },
    onError: (error, remote) => {
      errors.push(error);
      options.onError?.(error, remote);
    },
  });
  return { transport, peerId, sessions, errors };
}

/** Poll (on the event loop, no timing assertions) until `check` returns a value. */
export async function eventually<T>(check: () => T | undefined | null | false, what: string, limitMs = 5000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The next `n` messages a session emits. */
export function nextMessages(session: Session, n: number): Promise<WireMessage[]> {
  return new Promise((resolve) => {
    const got: WireMessage[] = [];
    const on = (m: WireMessage): void => {
      got.push(m);
      if (got.length === n) {
        session.off('message', on);
        resolve(got);
      }
    };
    session.on('message', on);
  });
}
