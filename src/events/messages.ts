/**
 * The wire protocol's messages as values (framing lives in src/net). The
 * commands follow ploppy's seed README; SEARCH/FOUND come from the search seed,
 * PONG/DONTHAVE/RESOLVED/ERROR are ploppy's additions. Every message has an `id`
 * (UUID) so cascades can be cut when an id was seen recently.
 *
 * `validateMessage` is the only way a peer's JSON becomes a WireMessage: it
 * checks shapes and every bound in constants.ts, and throws PEER_BAD_MESSAGE or
 * PEER_LIMIT_EXCEEDED.
 */
import {
  addressBytesMax,
  blocksPerMessageMax,
  fileModeMax,
  hashesPerWantMax,
  itemsPerMessageMax,
  jsonDepthMax,
  networkNameBytesMax,
  searchHopsMax,
  searchResultsMax,
} from '../core/constants.js';
import { PloppyError } from '../core/errors.js';
import { isHlc } from '../core/hlc.js';
import { isBlockHash, isMessageId, isPeerId, type BlockHash, type MessageId, type PeerId } from '../core/ids.js';
import { jsonDepth } from '../core/json.js';
import { isSyncPath, type SyncPath } from '../core/path.js';
import { isVersionVector } from '../core/vv.js';
import type { FileVersion } from './version.js';

export interface PeerInfo {
  readonly name: string;
  readonly uuid: PeerId;
  readonly address: string;
}

export type WireMessage =
  // discovery
  | { cmd: 'HELLO'; id: MessageId; name: string; uuid: PeerId; address: string; network: string }
  | { cmd: 'ICANSEE'; id: MessageId; via: PeerId; peer: PeerInfo }
  | { cmd: 'IKNOWABOUT'; id: MessageId; via: PeerId; peer: PeerInfo }
  | { cmd: 'ICANTSEE'; id: MessageId; via: PeerId; uuid: PeerId }
  | { cmd: 'PING'; id: MessageId }
  | { cmd: 'PONG'; id: MessageId; ping: MessageId }
  // file changes. An announcement covers the sender's index sequences (since, upTo]: every entry
  // that changed in that range and that the receiver lacks is in it or in an earlier message of the
  // same range. The receiver's cursor moves to `upTo` only when `since` <= its cursor, so a lost or
  // reordered message leaves a gap (closed by the next LIST) instead of silently skipping changes.
  // A message without `since` claims no range (as if since = upTo).
  | { cmd: 'LIST'; id: MessageId; since: number }
  | { cmd: 'IHAVE'; id: MessageId; files: readonly FileVersion[]; since?: number; upTo: number }
  | { cmd: 'IMOVED'; id: MessageId; oldpath: SyncPath; newpath: SyncPath; tombstone: FileVersion; version: FileVersion; since?: number; upTo: number }
  | { cmd: 'IDELETED'; id: MessageId; oldpath: SyncPath; version: FileVersion; since?: number; upTo: number }
  | { cmd: 'RESOLVED'; id: MessageId; path: SyncPath; copyPath: SyncPath; keep: 'winner' | 'other' | 'both'; by: PeerId }
  // blocks
  | { cmd: 'IWANT'; id: MessageId; hashes: readonly BlockHash[] }
  | { cmd: 'HEREIS'; id: MessageId; hash: BlockHash; data: Uint8Array }
  | { cmd: 'DONTHAVE'; id: MessageId; hashes: readonly BlockHash[] }
  // search (seed 004): by name with a hop limit, answered by FOUND
  | { cmd: 'SEARCH'; id: MessageId; origin: PeerId; query: string; hops: number }
  | { cmd: 'FOUND'; id: MessageId; search: MessageId; peer: PeerId; matches: readonly { path: SyncPath; size: number; blocks: readonly BlockHash[] }[] }
  | { cmd: 'ERROR'; id: MessageId; code: string; message: string };

export type Command = WireMessage['cmd'];
export type MessageOf<C extends Command> = Extract<WireMessage, { cmd: C }>;

/** How a message is kept in the log: block bytes are never logged, only hash and size. */
export type LoggedMessage = Exclude<WireMessage, { cmd: 'HEREIS' }> | { cmd: 'HEREIS'; id: MessageId; hash: BlockHash; size: number };

export const commands: readonly Command[] = [
  'HELLO', 'ICANSEE', 'IKNOWABOUT', 'ICANTSEE', 'PING', 'PONG', 'LIST', 'IHAVE', 'IMOVED', 'IDELETED',
  'RESOLVED', 'IWANT', 'HEREIS', 'DONTHAVE', 'SEARCH', 'FOUND', 'ERROR',
];
export const isCommand = (s: unknown): s is Command => typeof s === 'string' && (commands as readonly string[]).includes(s);

export function toLogged(m: WireMessage): LoggedMessage {
  return m.cmd === 'HEREIS' ? { cmd: 'HEREIS', id: m.id, hash: m.hash, size: m.data.byteLength } : m;
}

// ---------------------------------------------------------------- validation

const bad = (what: string): never => {
  throw new PloppyError('PEER_BAD_MESSAGE', what);
};
const limit = (what: string): never => {
  throw new PloppyError('PEER_LIMIT_EXCEEDED', what);
};
const obj = (x: unknown, what: string): Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : bad(`${what}: not an object`);
const str = (x: unknown, what: string, maxBytes: number): string => {
  if (typeof x !== 'string') return bad(`${what}: not a string`);
  if (x.length > maxBytes) return limit(`${what}: longer than ${maxBytes}`);
  return x;
};
const int = (x: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number =>
  Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= max ? (x as number) : bad(`${what}: not an integer in [${min}, ${max}]`);
/** Milliseconds since the epoch, as stat gives them: fractional, within Date's range. */
const time = (x: unknown, what: string): number =>
  typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= 8.64e15 ? x : bad(`${what}: not a time in milliseconds`);
const id = (x: unknown, what = 'id'): MessageId => (isMessageId(x) ? x : bad(`${what}: not a UUID`));
const peer = (x: unknown, what: string): PeerId => (isPeerId(x) ? x : bad(`${what}: not a peer id`));
const path = (x: unknown, what: string): SyncPath => (isSyncPath(x) ? x : bad(`${what}: not a valid path`));
function list<T>(x: unknown, what: string, max: number, each: (v: unknown, i: number) => T): T[] {
  if (!Array.isArray(x)) return bad(`${what}: not an array`);
  if (x.length > max) return limit(`${what}: more than ${max} items`);
  return x.map(each);
}
/** The (since, upTo] range of an announcement; `since` may be absent (older peers). */
const range = (o: Record<string, unknown>): { since?: number; upTo: number } =>
  o.since === undefined ? { upTo: int(o.upTo, 'upTo') } : { since: int(o.since, 'since'), upTo: int(o.upTo, 'upTo') };
const hash = (x: unknown, what: string): BlockHash => (isBlockHash(x) ? x : bad(`${what}: not a SHA-256 hex digest`));

export function validateVersion(x: unknown, what = 'version'): FileVersion {
  const o = obj(x, what);
  const type = o.type;
  if (type !== 'file' && type !== 'directory' && type !== 'symlink') bad(`${what}.type: unknown`);
  if (typeof o.deleted !== 'boolean') bad(`${what}.deleted: not a boolean`);
  if (!isVersionVector(o.vv)) bad(`${what}.vv: not a version vector`);
  if (!isHlc(o.hlc)) bad(`${what}.hlc: not a clock stamp`);
  const v: FileVersion = {
    path: path(o.path, `${what}.path`),
    type: type as FileVersion['type'],
    mode: int(o.mode, `${what}.mode`, 0, fileModeMax),
    size: int(o.size, `${what}.size`),
    mtimeMs: time(o.mtimeMs, `${what}.mtimeMs`),
    blockSizeBytes: int(o.blockSizeBytes, `${what}.blockSizeBytes`),
    blocks: list(o.blocks, `${what}.blocks`, blocksPerMessageMax, (h, i) => hash(h, `${what}.blocks[${i}]`)),
    deleted: o.deleted as boolean,
    vv: o.vv as FileVersion['vv'],
    hlc: o.hlc as FileVersion['hlc'],
    author: peer(o.author, `${what}.author`),
  };
  if (o.target !== undefined) return { ...v, target: str(o.target, `${what}.target`, 4096) };
  return v;
}

const peerInfo = (x: unknown): PeerInfo => {
  const o = obj(x, 'peer');
  return {
    name: str(o.name, 'peer.name', networkNameBytesMax),
    uuid: peer(o.uuid, 'peer.uuid'),
    address: str(o.address, 'peer.address', addressBytesMax),
  };
};

/**
 * Turn a decoded JSON payload (and, for HEREIS, the raw block bytes) into a
 * WireMessage, or throw a coded error. Never trusts the peer.
 */
export function validateMessage(cmd: string, payload: unknown, data?: Uint8Array): WireMessage {
  if (!isCommand(cmd)) return bad(`unknown command ${JSON.stringify(cmd.slice(0, 32))}`);
  if (jsonDepth(payload, jsonDepthMax + 1) > jsonDepthMax) limit(`JSON nested deeper than ${jsonDepthMax}`);
  const o = obj(payload, cmd);
  const mid = id(o.id);
  switch (cmd) {
    case 'HELLO':
      return {
        cmd, id: mid,
        name: str(o.name, 'name', networkNameBytesMax),
        uuid: peer(o.uuid, 'uuid'),
        address: str(o.address, 'address', addressBytesMax),
        network: str(o.network, 'network', networkNameBytesMax),
      };
    case 'ICANSEE':
    case 'IKNOWABOUT':
      return { cmd, id: mid, via: peer(o.via, 'via'), peer: peerInfo(o.peer) };
    case 'ICANTSEE':
      return { cmd, id: mid, via: peer(o.via, 'via'), uuid: peer(o.uuid, 'uuid') };
    case 'PING':
      return { cmd, id: mid };
    case 'PONG':
      return { cmd, id: mid, ping: id(o.ping, 'ping') };
    case 'LIST':
      return { cmd, id: mid, since: int(o.since, 'since') };
    case 'IHAVE':
      return {
        cmd, id: mid, files: list(o.files, 'files', itemsPerMessageMax, (v, i) => validateVersion(v, `files[${i}]`)),
        ...range(o),
      };
    case 'IMOVED':
      return {
        cmd, id: mid, oldpath: path(o.oldpath, 'oldpath'), newpath: path(o.newpath, 'newpath'),
        tombstone: validateVersion(o.tombstone, 'tombstone'), version: validateVersion(o.version),
        ...range(o),
      };
    case 'IDELETED':
      return { cmd, id: mid, oldpath: path(o.oldpath, 'oldpath'), version: validateVersion(o.version), ...range(o) };
    case 'RESOLVED': {
      const keep = o.keep;
      if (keep !== 'winner' && keep !== 'other' && keep !== 'both') return bad('keep: not winner|other|both');
      return { cmd, id: mid, path: path(o.path, 'path'), copyPath: path(o.copyPath, 'copyPath'), keep, by: peer(o.by, 'by') };
    }
    case 'IWANT':
    case 'DONTHAVE':
      return { cmd, id: mid, hashes: list(o.hashes, 'hashes', hashesPerWantMax, (h, i) => hash(h, `hashes[${i}]`)) };
    case 'HEREIS':
      if (data === undefined) return bad('HEREIS without block bytes');
      return { cmd, id: mid, hash: hash(o.hash, 'hash'), data };
    case 'SEARCH':
      return { cmd, id: mid, origin: peer(o.origin, 'origin'), query: str(o.query, 'query', 256), hops: int(o.hops, 'hops', 0, searchHopsMax) };
    case 'FOUND':
      return {
        cmd, id: mid, search: id(o.search, 'search'), peer: peer(o.peer, 'peer'),
        matches: list(o.matches, 'matches', searchResultsMax, (m, i) => {
          const mo = obj(m, `matches[${i}]`);
          return {
            path: path(mo.path, `matches[${i}].path`),
            size: int(mo.size, `matches[${i}].size`),
            blocks: list(mo.blocks, `matches[${i}].blocks`, blocksPerMessageMax, (h, j) => hash(h, `matches[${i}].blocks[${j}]`)),
          };
        }),
      };
    case 'ERROR':
      return { cmd, id: mid, code: str(o.code, 'code', 64), message: str(o.message, 'message', 1024) };
  }
}
