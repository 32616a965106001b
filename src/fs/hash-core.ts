/**
 * Hashing a file into blocks: SHA-256 per block, streamed through one large
 * reusable buffer (a file is never loaded whole), with the block size from the
 * shared schedule. Used by the hash workers (synchronous reads: a worker has
 * nothing else to do) and by the calling thread (asynchronous reads).
 *
 * A file that changes while it is read would yield hashes of no real state, so
 * the file is fstat'ed before and after: size, mtime and the bytes read must
 * agree, else it is read again (at most hashAttemptsMax times).
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { blockSizeFor } from '../core/blocks.js';
import { hashAttemptsMax, hashReadBufferBytes } from '../core/constants.js';
import { isPloppyError, PloppyError } from '../core/errors.js';
import type { BlockHash } from '../core/ids.js';

/** A file's content as blocks, with the stat it was read under. */
export interface FileDigest {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  /** The raw st_mode (type and all permission bits). */
  readonly statMode: number;
  readonly blockSizeBytes: number;
  readonly blocks: BlockHash[];
}

/** Files under this size are verified with synchronous reads (see hashOpenFile). */
const smallFileBytes = 64 * 1024;

/** Never follow a symlink swapped in for the file. */
const readFlags = constants.O_RDONLY | constants.O_NOFOLLOW;

/** Splits a byte stream at block boundaries and hashes each block. */
export class BlockHasher {
  private readonly blocks: BlockHash[] = [];
  private current: Hash | null = null;
  private filled = 0;
  bytes = 0;

  constructor(readonly blockSizeBytes: number) {}

  update(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      this.current ??= createHash('sha256');
      const take = Math.min(this.blockSizeBytes - this.filled, chunk.length - offset);
      this.current.update(chunk.subarray(offset, offset + take));
      offset += take;
      this.filled += take;
      if (this.filled === this.blockSizeBytes) this.endBlock();
    }
    this.bytes += chunk.length;
  }

  finish(): BlockHash[] {
    if (this.filled > 0) this.endBlock();
    return this.blocks;
  }

  private endBlock(): void {
    this.blocks.push((this.current as Hash).digest('hex') as BlockHash);
    this.current = null;
    this.filled = 0;
  }
}

const stable = (before: Stats, after: Stats, bytesRead: number): boolean =>
  before.size === after.size && before.mtimeMs === after.mtimeMs && bytesRead === before.size;

const digestOf = (st: Stats, hasher: BlockHasher): FileDigest => ({
  size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, statMode: st.mode,
  blockSizeBytes: hasher.blockSizeBytes, blocks: hasher.finish(),
});

function unstable(path: string): PloppyError {
  return new PloppyError('FS_ERROR', `${path} changed on disk while it was hashed ${hashAttemptsMax} times`);
}

function notAFile(path: string): PloppyError {
  return new PloppyError('FS_ERROR', `${path} is not a regular file`);
}

/** One file's hashing, as a worker reports it: a digest, or the error's code and message. */
export type HashOutcome = { readonly ok: true; readonly digest: FileDigest } | { readonly ok: false; readonly code: string; readonly message: string };

/** The outcome of a hashing that threw `e`: PloppyErrors keep their code, system errors their errno. */
export function failedOutcome(e: unknown): HashOutcome {
  const code = isPloppyError(e) ? e.code : (e as NodeJS.ErrnoException).code ?? 'FS_ERROR';
  return { ok: false, code, message: e instanceof Error ? e.message : String(e) };
}

/** Synchronous hashing, for worker threads. `buffer` is reused across calls. */
export function hashFileSync(path: string, buffer: Buffer): FileDigest {
  for (let attempt = 0; attempt < hashAttemptsMax; attempt++) {
    const fd = openSync(path, readFlags);
    try {
      const before = fstatSync(fd);
      if (!before.isFile()) throw notAFile(path);
      const hasher = new BlockHasher(blockSizeFor(before.size));
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, hasher.bytes);
        if (n > 0) hasher.update(buffer.subarray(0, n));
        if (n < buffer.length) break;
      }
      const after = fstatSync(fd);
      if (stable(before, after, hasher.bytes)) return digestOf(after, hasher);
    } finally {
      closeSync(fd);
    }
  }
  throw unstable(path);
}

/**
 * Asynchronous hashing in the calling thread (the event loop keeps turning
 * between reads). Without `reusable`, a buffer fitting the file is allocated.
 */
export async function hashFileAsync(path: string, reusable?: Buffer): Promise<FileDigest> {
  for (let attempt = 0; attempt < hashAttemptsMax; attempt++) {
    const handle = await open(path, readFlags);
    try {
      const before = await handle.stat();
      if (!before.isFile()) throw notAFile(path);
      const hasher = new BlockHasher(blockSizeFor(before.size));
      // one read of size+1 sees a small file whole and its end; big files stream through the buffer
      const want = Math.min(reusable?.length ?? hashReadBufferBytes, before.size + 1);
      const buffer = reusable !== undefined && reusable.length >= want ? reusable : Buffer.allocUnsafe(want);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, want, hasher.bytes);
        if (bytesRead > 0) hasher.update(buffer.subarray(0, bytesRead));
        if (bytesRead < want) break;
      }
      const after = await handle.stat();
      if (stable(before, after, hasher.bytes)) return digestOf(after, hasher);
    } finally {
      await handle.close();
    }
  }
  throw unstable(path);
}

/**
 * The blocks of a file the caller holds open and owns (nobody else writes it),
 * hashed with `blockSizeBytes` and read to its end whatever its length: no
 * fstat, the reads tell the size.
 */
export async function hashOpenFile(
  handle: { readonly fd: number; read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> },
  blockSizeBytes: number, expectedBytes: number,
): Promise<{ size: number; blocks: BlockHash[] }> {
  const hasher = new BlockHasher(blockSizeBytes);
  const buffer = Buffer.allocUnsafe(Math.min(hashReadBufferBytes, expectedBytes + 1));
  // A small file (just written: in the page cache) is read at once from this thread, not through the thread pool.
  const small = expectedBytes < smallFileBytes;
  for (;;) {
    const bytesRead = small ? readSync(handle.fd, buffer, 0, buffer.length, hasher.bytes) : (await handle.read(buffer, 0, buffer.length, hasher.bytes)).bytesRead;
    if (bytesRead > 0) hasher.update(buffer.subarray(0, bytesRead));
    if (bytesRead < buffer.length) break;
  }
  return { size: hasher.bytes, blocks: hasher.finish() };
}

/** Hash of one byte range, for serving and copying blocks. */
/**
 * Digests of whole buffers already computed in this process, keyed by the
 * buffer object. A received block is checked by the engine and again by the
 * applier just before it is written; a copied block is read, checked, then
 * written through the same check. Block buffers are never written to once
 * filled, so the second check of the same object can be a lookup.
 */
const knownDigests = new WeakMap<Uint8Array, BlockHash>();

/** SHA-256 of a whole buffer, in hex (computed once per buffer object; see knownDigests). */
export const sha256Hex = (data: Uint8Array): BlockHash => {
  const known = knownDigests.get(data);
  if (known !== undefined) return known;
  const digest = createHash('sha256').update(data).digest('hex') as BlockHash;
  knownDigests.set(data, digest);
  return digest;
};

/** Record a digest computed elsewhere (a hash worker) for exactly these bytes. */
export const rememberDigest = (data: Uint8Array, digest: BlockHash): void => {
  knownDigests.set(data, digest);
};
