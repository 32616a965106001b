/**
 * Writing one block's bytes at each offset it occupies in a file, from
 * whichever thread holds them (a block worker for local copies, the event
 * loop when no worker is there).
 */
import { writeSync } from 'node:fs';

/** Write all of `data` to `to.fd` at each of `to.positions` (a write may be short). */
export function writeAt(to: { readonly fd: number; readonly positions: readonly number[] }, data: Uint8Array): void {
  for (const position of to.positions) {
    let done = 0;
    while (done < data.length) done += writeSync(to.fd, data, done, data.length - done, position + done);
  }
}
