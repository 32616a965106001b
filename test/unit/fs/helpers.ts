/**
 * Shared helpers for the file-system tests: real temp directories, versions
 * built from real bytes, and an independent block hasher to check against.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { blockLength, blockSizeFor } from '../../../src/core/blocks.js';
import type { BlockHash } from '../../../src/core/ids.js';
import { checkPath } from '../../../src/core/path.js';
import type { SyncPath } from '../../../src/core/path.js';
import type { FileVersion } from '../../../src/events/version.js';

const made: string[] = [];
after(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh directory under the system temp dir, removed after the test file. */
export async function tempDir(label = 'fs'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `ploppy-${label}-`));
  made.push(dir);
  return dir;
}

/** Block hashes computed the obvious way: slice, hash, hex (no streaming). */
export function independentBlocks(bytes: Uint8Array): { blockSizeBytes: number; blocks: BlockHash[] } {
  const blockSizeBytes = blockSizeFor(bytes.length);
  const blocks: BlockHash[] = [];
  for (let offset = 0; offset < bytes.length; offset += blockSizeBytes) {
    blocks.push(createHash('sha256').update(bytes.subarray(offset, offset + blockSizeBytes)).digest('hex') as BlockHash);
  }
  return { blockSizeBytes, blocks };
}

/** Deterministic, non-repeating-looking bytes (no randomness in tests). */
export function patternBytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export const sp = (p: string): SyncPath => checkPath(p);

const author = '0123456789abcdef' as FileVersion['author'];

/** A file version for `bytes` at `p` (what a peer would announce). */
export function fileVersion(p: string, bytes: Uint8Array, extra: Partial<FileVersion> = {}): FileVersion {
  return {
    path: sp(p), type: 'file', mode: 6, size: bytes.length, mtimeMs: 1_700_000_000_123.5,
    ...independentBlocks(bytes), deleted: false, vv: { [author]: 1 }, hlc: { wallMs: 1, counter: 0 }, author, ...extra,
  };
}

export function dirVersion(p: string, extra: Partial<FileVersion> = {}): FileVersion {
  return {
    path: sp(p), type: 'directory', mode: 7, size: 0, mtimeMs: 1_700_000_000_000, blockSizeBytes: blockSizeFor(0), blocks: [],
    deleted: false, vv: { [author]: 1 }, hlc: { wallMs: 1, counter: 0 }, author, ...extra,
  };
}

export function symlinkVersion(p: string, target: string, extra: Partial<FileVersion> = {}): FileVersion {
  return { ...dirVersion(p), type: 'symlink', target, ...extra };
}

/** The bytes of block `index` of `bytes` under `version`'s block size. */
export function blockOf(bytes: Uint8Array, version: FileVersion, index: number): Uint8Array {
  const offset = index * version.blockSizeBytes;
  return bytes.subarray(offset, offset + blockLength(version.size, version.blockSizeBytes, index));
}
