/**
 * How the audit commands name a file version to people and scripts: who made
 * it, when by its author's clock, its vector, and a content hash, so two
 * versions can be told apart (or recognised as the same content) at a glance.
 */
import { hlcToIso, type Hlc } from '../core/hlc.js';
import type { PeerId } from '../core/ids.js';
import { canonicalJson } from '../core/json.js';
import type { Hasher } from '../core/ports.js';
import type { VersionVector } from '../core/vv.js';
import type { FileVersion } from '../events/version.js';
import { nodeHasher } from '../store/node-ports.js';

/** A version as the audit reports it. */
export interface VersionInfo {
  readonly path: string;
  readonly type: FileVersion['type'];
  readonly deleted: boolean;
  readonly size: number;
  readonly author: PeerId;
  /** The version's stamp on its author's clock, and the same as an ISO time. */
  readonly hlc: Hlc;
  readonly time: string;
  readonly vv: VersionVector;
  /** SHA-256 over the content (type, mode, size, block list, link target); null for a delete. */
  readonly contentHash: string | null;
}

/**
 * The content hash: equal exactly when `sameContent` (src/events/version.ts)
 * says two live versions have the same content.
 */
export function contentHash(v: FileVersion, hasher: Hasher = nodeHasher): string | null {
  if (v.deleted) return null;
  return hasher.sha256(canonicalJson({ type: v.type, mode: v.mode, size: v.size, blocks: v.blocks, target: v.target ?? '' }));
}

export function versionInfo(v: FileVersion, hasher: Hasher = nodeHasher): VersionInfo {
  return {
    path: v.path, type: v.type, deleted: v.deleted, size: v.size, author: v.author,
    hlc: v.hlc, time: hlcToIso(v.hlc), vv: v.vv, contentHash: contentHash(v, hasher),
  };
}

/** One version's identity, whatever path it sits at: its vector, stamp, author and whether it is a delete. */
export const versionId = (v: Pick<FileVersion, 'vv' | 'hlc' | 'author' | 'deleted'>): string =>
  `${canonicalJson(v.vv)}@${v.hlc.wallMs}.${v.hlc.counter}/${v.author}${v.deleted ? '-' : '+'}`;

/** A vector as people read it: `aaaaaaaa:2 bbbbbbbb:1` (peer ids shortened to 8 characters). */
export const formatVector = (vv: VersionVector): string =>
  Object.keys(vv).length === 0 ? '{}' : Object.entries(vv).map(([k, n]) => `${k.slice(0, 8)}:${n}`).join(' ');

/** A short description: `{aaaaaaaa:2} by aaaaaaaa at 2026-01-01T00:00:00.000Z, content 3f2a9c1e`. */
export function describeVersion(v: FileVersion | VersionInfo, hasher: Hasher = nodeHasher): string {
  const hash = 'contentHash' in v ? v.contentHash : contentHash(v, hasher);
  const what = v.deleted ? 'delete' : v.type === 'file' ? `content ${(hash ?? '').slice(0, 8)}` : `${v.type} ${(hash ?? '').slice(0, 8)}`;
  return `{${formatVector(v.vv)}} by ${v.author.slice(0, 8)} at ${hlcToIso(v.hlc)}, ${what}`;
}
