/**
 * Shared-folder paths: NFC, '/'-separated, relative, no '.', '..' or empty
 * segments, no NUL. Every path that enters from disk or from a peer goes through
 * `checkPath` once; after that it is a `SyncPath` and can be trusted.
 */
import { pathBytesMax, pathSegmentBytesMax } from './constants.js';
import { PloppyError } from './errors.js';
import type { Brand } from './ids.js';

export type SyncPath = Brand<string, 'SyncPath'>;

const utf8Length = (s: string): number => {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
};

/** Why `p` is not an acceptable sync path, or null when it is. */
export function pathProblem(p: unknown): string | null {
  if (typeof p !== 'string') return 'not a string';
  if (p.length === 0) return 'empty';
  if (p !== p.normalize('NFC')) return 'not NFC';
  if (utf8Length(p) > pathBytesMax) return 'too long';
  if (p.includes('\0')) return 'contains NUL';
  if (p.includes('\\')) return 'contains a backslash';
  if (p.startsWith('/')) return 'absolute';
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') return `bad segment ${JSON.stringify(seg)}`;
    if (utf8Length(seg) > pathSegmentBytesMax) return 'segment too long';
  }
  return null;
}

export const isSyncPath = (p: unknown): p is SyncPath => pathProblem(p) === null;

export function checkPath(p: unknown): SyncPath {
  const problem = pathProblem(p);
  if (problem !== null) {
    throw new PloppyError('PATH_INVALID', `bad path ${JSON.stringify(p)}: ${problem}`);
  }
  return p as SyncPath;
}

/** Normalise a native relative path (any separators, any Unicode form) into a SyncPath. */
export const toSyncPath = (native: string): SyncPath =>
  checkPath(native.split(/[\\/]+/).filter((s) => s !== '' && s !== '.').join('/').normalize('NFC'));

export const parentOf = (p: SyncPath): SyncPath | null => {
  const i = p.lastIndexOf('/');
  return i < 0 ? null : (p.slice(0, i) as SyncPath);
};

/** True when `p` is `dir` or lies under it. */
export const isUnder = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);
