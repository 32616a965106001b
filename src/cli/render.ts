/**
 * One renderer for every command: results become text or `--json`, errors a
 * message on stderr and an exit code (0 ok, 1 operational error, 2 usage).
 */
import { isPloppyError } from '../core/errors.js';

export const exitCodes = { ok: 0, failure: 1, usage: 2 } as const;

/** Print one line of output (JSON when asked). */
export function emit(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text()}\n`);
}

export function reportError(e: unknown, json = false): number {
  const code = isPloppyError(e) ? e.code : 'INTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  if (json) process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else process.stderr.write(`ploppy: ${isPloppyError(e) ? message : `internal error: ${e instanceof Error ? (e.stack ?? message) : message}`}\n`);
  return isPloppyError(e, 'USAGE') ? exitCodes.usage : exitCodes.failure;
}

/**
 * Wrap a command handler: a thrown error is reported with its code, and the
 * exit code is set (not forced) so pending output is flushed.
 */
export function handled<A extends { json?: boolean }>(run: (argv: A) => Promise<number | void>): (argv: A) => Promise<void> {
  return async (argv) => {
    try {
      const code = await run(argv);
      process.exitCode = code ?? exitCodes.ok;
    } catch (e) {
      process.exitCode = reportError(e, argv.json === true);
    }
  };
}
