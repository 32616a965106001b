/**
 * Which block buffers own their memory outright.
 *
 * A block's bytes can travel without copies when nothing else views the same
 * ArrayBuffer: it can be moved to a worker thread and back (transfer), and the
 * bytes around the block are scratch, so a frame header can be written just
 * in front of it and the frame sent as one buffer. Whoever allocates such a
 * buffer marks it; whoever wants to use the memory that way asks first.
 */
const owned = new WeakSet<ArrayBufferLike>();

/** Mark `data`'s ArrayBuffer as belonging to this block alone. */
export function markOwnedMemory(data: Uint8Array): void {
  owned.add(data.buffer);
}

/** True when `data`'s ArrayBuffer belongs to this block alone (see markOwnedMemory). */
export const ownsMemory = (data: Uint8Array): boolean => owned.has(data.buffer);

/** The memory is about to leave this thread (transferred): forget the mark. */
export function forgetOwnedMemory(data: Uint8Array): void {
  owned.delete(data.buffer);
}

/** Pooled buffers come in multiples of this; a 256 KiB block with its header room takes 320 KiB. */
const poolGrainBytes = 64 * 1024;
/** Buffers kept per size, at most (so a burst does not pin its memory for good). */
const pooledPerSizeMax = 48;
/**
 * Bytes kept in all sizes together, at most: blocks of a folder of mixed file
 * sizes come in five sizes, and 48 of each held ~45 MiB for good.
 */
const pooledBytesMax = 16 * 1024 * 1024;

/**
 * Block buffers for reuse. A transfer moves a gigabyte through 256 KiB
 * buffers; allocating each afresh makes V8 count it as new external memory
 * and run a full garbage collection every few dozen blocks. Buffers are taken
 * here when a block is read or received and given back once nothing uses
 * them any more (the block was sent, or written to its temp file). A buffer
 * that is never given back is simply collected. Taken buffers own their
 * memory (markOwnedMemory).
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly pooled = new WeakSet<ArrayBuffer>();
  /** Bytes of the buffers in `free`. */
  private freeBytes = 0;
  /** Buffers taken so far: a caller that sees it unchanged for a while knows the pool sat idle (see trim). */
  takes = 0;

  /**
   * An ArrayBuffer of at least `bytes` (its contents are whatever was there
   * before): a free one of that size, else of the next size up (a 256 KiB
   * block fits a buffer pooled for a 256 KiB block with header room), else new.
   */
  take(bytes: number): ArrayBuffer {
    this.takes++;
    const size = Math.ceil(Math.max(bytes, 1) / poolGrainBytes) * poolGrainBytes;
    const ab = this.free.get(size)?.pop() ?? this.free.get(size + poolGrainBytes)?.pop();
    if (ab === undefined) return new ArrayBuffer(size);
    this.pooled.delete(ab);
    this.freeBytes -= ab.byteLength;
    return ab;
  }

  /** Let every free buffer go (a daemon at rest holds none; the next transfer fills the pool again). */
  trim(): void {
    this.free.clear();
    this.freeBytes = 0;
  }

  /** Bytes held in free buffers (for tests and diagnostics). */
  get pooledBytes(): number {
    return this.freeBytes;
  }

  /** Give `ab` back: the caller and everyone it shared the bytes with are done with them. */
  give(ab: ArrayBufferLike): void {
    if (!(ab instanceof ArrayBuffer) || ab.byteLength === 0 || ab.byteLength % poolGrainBytes !== 0 || this.pooled.has(ab)) return;
    let list = this.free.get(ab.byteLength);
    if (list === undefined) this.free.set(ab.byteLength, (list = []));
    if (list.length >= pooledPerSizeMax || this.freeBytes + ab.byteLength > pooledBytesMax) return;
    owned.delete(ab);
    this.pooled.add(ab);
    this.freeBytes += ab.byteLength;
    list.push(ab);
  }
}

/** The process's pool of block buffers (see BufferPool). */
export const blockBuffers = new BufferPool();
