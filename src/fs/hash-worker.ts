/**
 * A hash worker thread: receives batches of absolute file paths, hashes each
 * with synchronous reads into one reused buffer, and answers with one result
 * per path (a digest, or the error's code and message). See hash-pool.ts.
 */
import { parentPort } from 'node:worker_threads';
import { hashReadBufferBytes } from '../core/constants.js';
import { isPloppyError } from '../core/errors.js';
import { hashFileSync } from './hash-core.js';
import type { HashBatch, HashBatchResult, HashOutcome } from './hash-pool.js';

const buffer = Buffer.allocUnsafe(hashReadBufferBytes);

function hashOne(path: string): HashOutcome {
  try {
    return { ok: true, digest: hashFileSync(path, buffer) };
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    const code = isPloppyError(e) ? e.code : errno ?? 'FS_ERROR';
    return { ok: false, code, message: e instanceof Error ? e.message : String(e) };
  }
}

const port = parentPort;
if (port !== null) {
  port.on('message', (batch: HashBatch) => {
    const answer: HashBatchResult = { batch: batch.batch, results: batch.paths.map(hashOne) };
    port.postMessage(answer);
  });
  port.postMessage({ ready: true });
}
