/**
 * A block worker thread: reads a block of a file and hashes it (and, for a
 * copy, writes it to a temp file when the hash is the expected one), or
 * hashes a block it is handed, and sends the bytes back with their SHA-256. Buffers
 * cross the thread boundary by transfer, never by copy. It also hashes whole
 * files for the scanner (a batch of paths, one outcome each). See block-pool.ts.
 *
 * Open files are kept (a few, least recently used first out), since a
 * transfer reads a file block after block. A kept descriptor whose file was
 * unlinked or renamed over (no links left) is reopened; a file changed in
 * place is read as it is now, and the caller's hash check sees the change.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { hashReadBufferBytes } from '../core/constants.js';
import { isPloppyError } from '../core/errors.js';
import type { BlockJob, BlockJobResult } from './block-pool.js';
import { failedOutcome, hashFileSync, type HashOutcome } from './hash-core.js';
import { writeAt } from './write-at.js';

const openFilesMax = 32;
/** Descriptors are closed after this long without a read (a deleted file's space comes back). */
const idleCloseMs = 2_000;
const readFlags = constants.O_RDONLY | constants.O_NOFOLLOW;

const files = new Map<string, number>();
let idleTimer: NodeJS.Timeout | null = null;

function closeAll(): void {
  for (const fd of files.values()) closeSync(fd);
  files.clear();
}

function descriptorFor(path: string): number {
  const kept = files.get(path);
  if (kept !== undefined) {
    files.delete(path);
    if (fstatSync(kept).nlink > 0) {
      files.set(path, kept);
      return kept;
    }
    closeSync(kept);
  }
  const fd = openSync(path, readFlags);
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw Object.assign(new Error(`${path} is not a regular file`), { code: 'FS_ERROR' });
  }
  files.set(path, fd);
  for (const [p, old] of files) {
    if (files.size <= openFilesMax) break;
    closeSync(old);
    files.delete(p);
  }
  return fd;
}

function read(job: Extract<BlockJob, { kind: 'read' }>): BlockJobResult {
  const fd = descriptorFor(job.path);
  const buffer = job.buffer;
  const view = new Uint8Array(buffer, job.headroom, job.length);
  let got = 0;
  while (got < job.length) {
    const n = readSync(fd, view, got, job.length - got, job.offset + got);
    if (n === 0) break;
    got += n;
  }
  const digest = createHash('sha256').update(view.subarray(0, got)).digest('hex');
  if (job.writeTo !== undefined && digest === job.writeTo.hash) writeAt(job.writeTo, view.subarray(0, got));
  return { id: job.id, ok: true, buffer, byteOffset: job.headroom, length: got, digest };
}

function hash(job: Extract<BlockJob, { kind: 'hash' }>): BlockJobResult {
  const digest = createHash('sha256').update(new Uint8Array(job.buffer, job.byteOffset, job.length)).digest('hex');
  return { id: job.id, ok: true, buffer: job.buffer, byteOffset: job.byteOffset, length: job.length, digest };
}

/** The read buffer for whole files, made on the first batch (a worker that only moves blocks never needs it). */
let fileBuffer: Buffer | null = null;

function hashFiles(job: Extract<BlockJob, { kind: 'files' }>): BlockJobResult {
  fileBuffer ??= Buffer.allocUnsafe(hashReadBufferBytes);
  const buffer = fileBuffer;
  const outcomes = job.paths.map((path): HashOutcome => {
    try {
      return { ok: true, digest: hashFileSync(path, buffer) };
    } catch (e) {
      return failedOutcome(e);
    }
  });
  return { id: job.id, ok: true, outcomes };
}

function run(job: BlockJob): BlockJobResult {
  try {
    switch (job.kind) {
      case 'read': return read(job);
      case 'hash': return hash(job);
      case 'files': return hashFiles(job);
    }
  } catch (e) {
    const code = isPloppyError(e) ? e.code : (e as NodeJS.ErrnoException).code ?? 'FS_ERROR';
    return { id: job.id, ok: false, code, message: e instanceof Error ? e.message : String(e) };
  }
}

const port = parentPort;
if (port !== null) {
  port.on('message', (job: BlockJob) => {
    const result = run(job);
    port.postMessage(result, result.ok && 'buffer' in result ? [result.buffer] : []); // a failed job's buffer is simply dropped
    if (idleTimer !== null) clearTimeout(idleTimer);
    idleTimer = setTimeout(closeAll, idleCloseMs);
    idleTimer.unref();
  });
}
