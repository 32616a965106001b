/**
 * `ploppy explain PATH [--as-of SEQ|TIME] [--json] [--svg FILE] [--html FILE]`:
 * the causal chain behind a path's state on this peer (src/audit/explain.ts).
 * Works through a running daemon, or offline on the log when none runs.
 */
import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { explainedPath, explainFromLog, explanationText, ignoredPath, timelineHtml, timelineSvg, type Explanation } from '../../audit/index.js';
import { isPloppyError } from '../../core/errors.js';
import { callControl } from '../../daemon/control.js';
import { readConfig } from '../../daemon/config.js';
import { LevelEventLog } from '../../store/level-event-log.js';
import { resolveNetwork, type NetworkPaths } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { handled } from '../render.js';

type Args = HomeArgs & { path: string; 'as-of'?: string; svg?: string; html?: string };

/**
 * Run `offline` on the network's log when no daemon holds it, else ask the
 * daemon with `online` (the pattern of `log` and `replay`).
 */
export async function withLogOrDaemon<T>(paths: NetworkPaths, offline: (log: LevelEventLog) => Promise<T>, online: () => Promise<T>): Promise<T> {
  let log: LevelEventLog;
  try {
    log = await LevelEventLog.open(paths.db);
  } catch (e) {
    if (!isPloppyError(e, 'LOG_LOCKED')) throw e;
    return online();
  }
  try {
    return await offline(log);
  } finally {
    await log.close();
  }
}

const module_: CommandModule<object, Args> = {
  command: 'explain <path>',
  describe: 'explain how a path got to its state on this peer: every version, where it came from, what was decided and why',
  builder: (y) =>
    withHome(y)
      .positional('path', { type: 'string', demandOption: true, describe: 'the path, relative to the shared folder' })
      .option('as-of', { type: 'string', describe: 'explain the state at a sequence number or ISO time' })
      .option('svg', { type: 'string', describe: 'also draw the story as an SVG timeline in this file' })
      .option('html', { type: 'string', describe: 'also write an HTML page (timeline and every step) to this file' }) as never,
  handler: handled(async (argv: Args) => {
    const paths = resolveNetwork(argv.home, argv.name);
    const asOf = argv['as-of'];
    const x = await withLogOrDaemon<Explanation>(
      paths,
      async (log) => explainFromLog(log, argv.path, asOf, { connected: new Set(), ignored: await ignoredPath(readConfig(paths).dir, explainedPath(argv.path)) }),
      async () => (await callControl(paths.socket, { op: 'explain', path: argv.path, asOf })) as Explanation,
    );
    if (argv.svg !== undefined) writeFileSync(argv.svg, timelineSvg(x));
    if (argv.html !== undefined) writeFileSync(argv.html, timelineHtml(x));
    process.stdout.write(argv.json ? `${JSON.stringify(x)}\n` : `${explanationText(x)}\n`);
    for (const file of [argv.svg, argv.html]) if (file !== undefined) process.stderr.write(`timeline written to ${file}\n`);
  }),
};
export default module_;
