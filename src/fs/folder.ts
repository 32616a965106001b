/**
 * The shared folder's boundary. Every sync path the file-system layer touches
 * is turned into a native path here, and nothing outside the folder can come
 * out: a path that resolves outside it, or that passes through a symlinked
 * directory, is refused with PATH_ESCAPES_FOLDER (DESIGN.md invariant 8).
 *
 * Names on disk may be in any Unicode form (macOS writes NFD); sync paths are
 * NFC. When the NFC name is not on disk, the directory is searched for an entry
 * whose NFC form matches, so a file scanned as NFC can be read and replaced
 * under its real name. Only non-ASCII names pay for that search.
 *
 * The checks are made with lstat before acting, so a symlink swapped in between
 * the check and the operation is not caught (Node has no openat/O_BENEATH).
 * They are synchronous: an lstat of a directory the kernel has just seen
 * costs about a microsecond, the promise API's round trip through the thread
 * pool twenty times that, and every block write and commit resolves its path.
 */
import { lstatSync } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { PloppyError } from '../core/errors.js';
import { checkPath } from '../core/path.js';
import type { SyncPath } from '../core/path.js';

const asciiOnly = /^[\x00-\x7f]*$/;

/** ENOENT or ENOTDIR: the path (or one of its parents) is not there. */
export const isNotFound = (e: unknown): boolean =>
  typeof e === 'object' && e !== null && ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR');

/** The errno code of a system error ('ENOSPC', ...), if it is one. */
export const errnoOf = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null ? (e as NodeJS.ErrnoException).code : undefined;

/** The shared folder's real root, and the only way from a sync path to a native one. */
export class SharedFolder {
  private constructor(readonly root: string) {}

  /** The folder must exist; its own real path is trusted (it may sit under a symlink). */
  static async open(dir: string): Promise<SharedFolder> {
    const root = await realpath(path.resolve(dir));
    const st = await lstat(root);
    if (!st.isDirectory()) throw new PloppyError('FS_ERROR', `shared folder ${root} is not a directory`);
    return new SharedFolder(root);
  }

  /**
   * The native absolute path of `p`. Missing trailing components are fine (the
   * caller may be about to create them); existing parents must be real
   * directories. `verified` remembers directories already checked (one batch's
   * worth: the caller clears it when it removes or moves directories).
   */
  async resolve(p: string, verified?: Set<string>): Promise<string> {
    const segments = this.checkedSegments(p);
    let current = this.root;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as string;
      const isLast = i === segments.length - 1;
      const direct = path.join(current, segment);
      if (!isLast && verified?.has(direct) === true) {
        current = direct;
        continue;
      }
      // The last name, in ASCII, is the native name whatever is there (NFC changes nothing): no lstat.
      if (isLast && asciiOnly.test(segment)) return direct;
      const found = await this.findEntry(current, segment);
      if (found === null) return path.join(current, ...segments.slice(i));
      current = found.native;
      if (!isLast && found.kind === 'symlink') {
        throw new PloppyError('PATH_ESCAPES_FOLDER', `${p}: ${segments.slice(0, i + 1).join('/')} is a symlink`);
      }
      if (!isLast && found.kind === 'directory') verified?.add(current);
    }
    return current;
  }

  /** Lexical checks: inside the root, then a well-formed sync path. */
  private checkedSegments(p: string): string[] {
    if (typeof p !== 'string' || p.length === 0) throw new PloppyError('PATH_INVALID', 'empty path');
    if (path.isAbsolute(p) || p.startsWith('/')) throw new PloppyError('PATH_ESCAPES_FOLDER', `${p}: absolute path`);
    const abs = path.resolve(this.root, p);
    if (!abs.startsWith(this.root + path.sep)) throw new PloppyError('PATH_ESCAPES_FOLDER', `${p}: resolves outside the shared folder`);
    return checkPath(p).split('/');
  }

  /** The entry named `segment` (NFC) in `dir`, under its native name. */
  private async findEntry(dir: string, segment: string): Promise<{ native: string; kind: 'directory' | 'symlink' | 'other' } | null> {
    const direct = path.join(dir, segment);
    const kind = kindOf(direct);
    if (kind !== null) return { native: direct, kind };
    if (asciiOnly.test(segment)) return null;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
    const match = names.find((n) => n !== segment && n.normalize('NFC') === segment);
    if (match === undefined) return null;
    const native = path.join(dir, match);
    const matchKind = kindOf(native);
    return matchKind === null ? null : { native, kind: matchKind };
  }

  /** The sync path of a native absolute path inside the folder ('' for the root itself). */
  relative(native: string): string {
    return path.relative(this.root, native).split(path.sep).join('/');
  }
}

function kindOf(native: string): 'directory' | 'symlink' | 'other' | null {
  try {
    const st = lstatSync(native, { throwIfNoEntry: false });
    if (st === undefined) return null;
    return st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** A SyncPath's parent as a sync path string ('' for top-level entries). */
export const parentPath = (p: SyncPath | string): string => {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
};

/** The last segment of a sync path. */
export const basenameOf = (p: SyncPath | string): string => p.slice(p.lastIndexOf('/') + 1);
