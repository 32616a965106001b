/**
 * Block size schedule (Syncthing's): the smallest power of two from 128 KiB to
 * 16 MiB that gives fewer than 2,000 blocks.
 */
import { blockSizeMaxBytes, blockSizeMinBytes, blocksPerFileTarget } from './constants.js';

export function blockSizeFor(fileSizeBytes: number): number {
  let size = blockSizeMinBytes;
  while (size < blockSizeMaxBytes && Math.ceil(fileSizeBytes / size) >= blocksPerFileTarget) size *= 2;
  return size;
}

export const blockCount = (fileSizeBytes: number, blockSizeBytes: number): number =>
  fileSizeBytes === 0 ? 0 : Math.ceil(fileSizeBytes / blockSizeBytes);

/** Length of block `index` of a file of `fileSizeBytes`. */
export const blockLength = (fileSizeBytes: number, blockSizeBytes: number, index: number): number =>
  Math.min(blockSizeBytes, fileSizeBytes - index * blockSizeBytes);

/** Whether two block lists are the same hashes in the same order. */
export const sameBlockList = (a: readonly string[], b: readonly string[]): boolean =>
  a === b || (a.length === b.length && a.every((h, i) => h === b[i]));
