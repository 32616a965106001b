/**
 * "B is identical to A": listings, content digests, and waiting for the
 * first moment B matches.
 *
 * A continuous tool finishes when it finishes, so B is watched. Hashing B on
 * every look would steal the CPU the tools need (this machine has two cores),
 * so each look is cheap and escalates only when it passes: count B's files
 * (readdir only), then compare every path, size and mtime with A's listing,
 * then hash every file. The finish time is the time of the look whose listing
 * matched, provided the hash then confirms it; a look that matched but does
 * not hash equal is ignored and watching goes on. Every tool under test writes
 * each file to a temporary name and renames it into place, so a file that has
 * its final size and mtime under its final name is complete.
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FileFacts {
  readonly size: number;
  readonly mtimeMs: number;
}

export type Listing = Map<string, FileFacts>;

/** Names the tools keep to themselves: temporary files and Syncthing's folder marker. */
const toolPrivate = (name: string): boolean =>
  name.startsWith('.ploppy-tmp-') || name === '.stfolder' || name === '.stversions' || name.startsWith('.syncthing.') || name.startsWith('~syncthing~');

function walk(dir: string, visit: (rel: string, entry: Dirent) => void, rel = ''): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(join(dir, rel), { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // a directory replaced while we looked
    throw e;
  }
  for (const entry of entries) {
    if (toolPrivate(entry.name)) continue;
    const r = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) walk(dir, visit, r);
    else visit(r, entry);
  }
}

export function countFiles(dir: string): number {
  let n = 0;
  walk(dir, (_rel, entry) => {
    if (entry.isFile()) n++;
  });
  return n;
}

export function listTree(dir: string): Listing {
  const out: Listing = new Map();
  walk(dir, (rel, entry) => {
    if (!entry.isFile()) return;
    try {
      const st = lstatSync(join(dir, rel));
      out.set(rel, { size: st.size, mtimeMs: st.mtimeMs });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  });
  return out;
}

const mtimeSlackMs = 2;

/** Same paths and sizes; with `mtimes`, mtimes within a few ms too. */
export function listingsMatch(a: Listing, b: Listing, mtimes: boolean): boolean {
  if (a.size !== b.size) return false;
  for (const [path, fa] of a) {
    const fb = b.get(path);
    if (fb === undefined || fb.size !== fa.size) return false;
    if (mtimes && Math.abs(fb.mtimeMs - fa.mtimeMs) > mtimeSlackMs) return false;
  }
  return true;
}

const readBuffer = Buffer.allocUnsafe(4 * 1024 * 1024);

/** Bytes to lay over a file's content while hashing it: what the file will hold after an in-place edit. */
export interface Patch {
  readonly offset: number;
  readonly data: Buffer;
}

function hashFile(path: string, patch?: Patch): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    for (let position = 0; ; ) {
      const n = readSync(fd, readBuffer, 0, readBuffer.length, position);
      if (n === 0) break;
      if (patch !== undefined) overlay(readBuffer, position, n, patch);
      h.update(readBuffer.subarray(0, n));
      position += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function overlay(buffer: Buffer, position: number, length: number, patch: Patch): void {
  const start = Math.max(position, patch.offset);
  const end = Math.min(position + length, patch.offset + patch.data.length);
  if (start < end) patch.data.copy(buffer, start - position, start - patch.offset, end - patch.offset);
}

/** One digest for the whole tree: every file's path, size and SHA-256, in path order. */
export function treeDigest(dir: string, listing: Listing = listTree(dir), patches: ReadonlyMap<string, Patch> = new Map()): string {
  const h = createHash('sha256');
  for (const path of [...listing.keys()].sort()) {
    h.update(`${path}\0${listing.get(path)?.size}\0${hashFile(join(dir, path), patches.get(path))}\n`);
  }
  return h.digest('hex');
}

/** A's side of the comparison, taken once before the timed phase. */
export interface Reference {
  readonly listing: Listing;
  readonly digest: string;
}

export function reference(dir: string, patches: ReadonlyMap<string, Patch> = new Map()): Reference {
  const listing = listTree(dir);
  return { listing, digest: treeDigest(dir, listing, patches) };
}

/** The digest, or null when a file vanished under us (the tool is still renaming things). */
function digestOrNull(dir: string, listing: Listing): string | null {
  try {
    return treeDigest(dir, listing);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export interface WaitOptions {
  readonly timeoutMs: number;
  /** Compare mtimes in the cheap look (needed when an edit keeps sizes the same). */
  readonly mtimes: boolean;
  /** Throw when this says the tool is gone (a crashed daemon never finishes). */
  readonly alive?: () => string | null;
}

/**
 * Resolve with performance.now() of the first look at which `dir` matched `ref`
 * (confirmed by hashing). Throws on timeout or when `alive` reports a failure.
 */
export async function waitIdentical(ref: Reference, dir: string, options: WaitOptions): Promise<number> {
  const started = performance.now();
  const files = ref.listing.size;
  let pollMs = files > 5_000 ? 100 : 20;
  let lastFullCheck = started;
  for (;;) {
    const at = performance.now();
    const listing = countFiles(dir) === files ? listTree(dir) : null;
    const cheap = listing !== null && listingsMatch(ref.listing, listing, options.mtimes);
    // A tool that does not carry mtimes over exactly still finishes: after 10 s, hash now and then anyway.
    const fallback = listing !== null && !cheap && at - started > 10_000 && at - lastFullCheck > 5_000;
    if (cheap || fallback) {
      lastFullCheck = performance.now();
      if (digestOrNull(dir, listing) === ref.digest) return at;
    }
    const gone = options.alive?.() ?? null;
    if (gone !== null) throw new Error(gone);
    if (at - started > options.timeoutMs) throw new Error(`not identical after ${Math.round(options.timeoutMs / 1000)} s`);
    await sleep(pollMs);
    pollMs = Math.min(pollMs, 250);
  }
}
