/**
 * Reading export files (NDJSON) from disk, line by line, for `import` and
 * `sim --from-logs`. A file whose chain does not check out is refused with
 * IMPORT_INVALID naming the line, for `sim --from-logs`; `import` reports it.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { PloppyError } from '../core/errors.js';
import type { PeerLog } from './from-logs.js';
import { importLines, type ImportResult } from './ndjson.js';

/** The lines of a text file, streamed. */
export function fileLines(path: string): AsyncIterable<string> {
  const input = createReadStream(path, { encoding: 'utf8' });
  input.on('error', () => {}); // reported through the interface's iterator
  return createInterface({ input, crlfDelay: Infinity });
}

export async function importFile(path: string, options: { verifyDecisions?: boolean; keepRecords?: boolean } = {}): Promise<ImportResult> {
  try {
    return await importLines(fileLines(path), options);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string' && err.code.startsWith('E')) throw new PloppyError('IMPORT_INVALID', `cannot read ${path}: ${err.message}`);
    throw e;
  }
}

/** A complete, verified export file as a peer's log for `sim --from-logs`. */
export async function loadPeerLog(path: string): Promise<PeerLog> {
  const { report, records } = await importFile(path, { keepRecords: true });
  if (report.problem !== null) throw new PloppyError('IMPORT_INVALID', `${path}: line ${report.problem.line}: ${report.problem.message}`);
  if (records === null || records.length === 0) throw new PloppyError('IMPORT_INVALID', `${path}: no records`);
  return { name: basename(path), records };
}
