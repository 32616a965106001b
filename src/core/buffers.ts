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
