/**
 * Deterministic benchmark datasets.
 *
 * Every byte and every size comes from AES-256-CTR over zeros, keyed by a hash
 * of a fixed seed string and the stream's name, so a dataset is the same on
 * every machine and every run. Each file (and each list of sizes) has its own
 * stream, so no file's content depends on how another was cut.
 *
 *   large  4 files x 256 MiB
 *   small  20,000 files of 1-16 KiB, in a 10x10x10 tree of directories, 20 files per leaf
 *   mixed  2 x 128 MiB, 16 x 16 MiB, 256 x 1 MiB, then files of 4-512 KiB up to exactly 1 GiB (~1,280 files)
 *   tiny   100 files of 1-16 KiB (the synced folder the live test starts from)
 *   edit   applied to a synced `large`: 4 KiB overwritten at 128 MiB in each file
 *   live   one new 1 KiB file per trial
 */
import { createCipheriv, createHash, type Cipher } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

const seed = 'ploppy-bench-sync-v1';
const MiB = 1024 * 1024;
const chunkBytes = 4 * MiB;
const zeros = Buffer.alloc(chunkBytes);

export type InitialDataset = 'large' | 'small' | 'mixed' | 'tiny';

/** An endless deterministic byte stream. */
class Stream {
  private readonly cipher: Cipher;

  constructor(name: string) {
    const key = createHash('sha256').update(`${seed}:key:${name}`).digest();
    const iv = createHash('sha256').update(`${seed}:iv:${name}`).digest().subarray(0, 16);
    this.cipher = createCipheriv('aes-256-ctr', key, iv);
  }

  bytes(n: number): Buffer {
    return n <= chunkBytes ? this.cipher.update(zeros.subarray(0, n)) : this.cipher.update(Buffer.alloc(n));
  }

  /** An integer in [min, max], from four stream bytes. */
  intIn(min: number, max: number): number {
    return min + (this.bytes(4).readUInt32BE(0) % (max - min + 1));
  }
}

function writeStreamFile(path: string, streamName: string, size: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const stream = new Stream(streamName);
  const fd = openSync(path, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(chunkBytes, size - done);
      writeSync(fd, stream.bytes(n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

function smallTree(dir: string, name: string, count: number): void {
  const sizes = new Stream(`${name}-sizes`);
  for (let i = 0; i < count; i++) {
    const leaf = Math.floor(i / 20);
    const rel = `d${Math.floor(leaf / 100)}/d${Math.floor(leaf / 10) % 10}/d${leaf % 10}/f${String(i).padStart(5, '0')}.bin`;
    writeStreamFile(join(dir, rel), `${name}-${i}`, sizes.intIn(1024, 16 * 1024));
  }
}

function mixedTree(dir: string): void {
  for (let i = 0; i < 2; i++) writeStreamFile(join(dir, `big/b${i}.bin`), `mixed-big-${i}`, 128 * MiB);
  for (let i = 0; i < 16; i++) writeStreamFile(join(dir, `med/m${String(i).padStart(2, '0')}.bin`), `mixed-med-${i}`, 16 * MiB);
  for (let i = 0; i < 256; i++) {
    writeStreamFile(join(dir, `1m/d${Math.floor(i / 32)}/f${String(i).padStart(3, '0')}.bin`), `mixed-1m-${i}`, MiB);
  }
  const sizes = new Stream('mixed-var-sizes');
  let left = 256 * MiB;
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, sizes.intIn(4 * 1024, 512 * 1024));
    writeStreamFile(join(dir, `var/d${String(Math.floor(i / 100)).padStart(2, '0')}/f${String(i).padStart(5, '0')}.bin`), `mixed-var-${i}`, size);
    left -= size;
  }
}

/** Write a dataset into `dir` (created if missing). */
export function generate(name: InitialDataset, dir: string): void {
  mkdirSync(dir, { recursive: true });
  switch (name) {
    case 'large':
      for (let i = 0; i < 4; i++) writeStreamFile(join(dir, `large-${i}.bin`), `large-${i}`, 256 * MiB);
      return;
    case 'small':
      return smallTree(dir, 'small', 20_000);
    case 'tiny':
      return smallTree(dir, 'tiny', 100);
    case 'mixed':
      return mixedTree(dir);
  }
}

/** Where `edit` writes in each large file, and how much. */
export const editOffsetBytes = 128 * MiB;
export const editBytes = 4096;

/** The edit as patches: for each `large` file, the 4 KiB that go at 128 MiB. */
export function editPatches(): Map<string, { offset: number; data: Buffer }> {
  const out = new Map<string, { offset: number; data: Buffer }>();
  for (let i = 0; i < 4; i++) out.set(`large-${i}.bin`, { offset: editOffsetBytes, data: new Stream(`edit-${i}`).bytes(editBytes) });
  return out;
}

/** The edit: overwrite 4 KiB in the middle of each `large` file, in place (no truncation). */
export function applyEdit(dir: string): void {
  for (const [name, patch] of editPatches()) {
    const fd = openSync(join(dir, name), 'r+');
    try {
      writeSync(fd, patch.data, 0, patch.data.length, patch.offset);
    } finally {
      closeSync(fd);
    }
  }
}

/** The content of the live test's file number `trial` (1 KiB). */
export const liveFileBytes = (trial: number): Buffer => new Stream(`live-${trial}`).bytes(1024);
