/**
 * `ploppy log`: the event log, filtered by path, peer, type and range.
 * `--json` prints one JSON object per line (the full recorded event).
 */
import type { CommandModule } from 'yargs';
import { isPloppyError } from '../../core/errors.js';
import { callControl } from '../../daemon/control.js';
import type { RecordedEvent } from '../../events/types.js';
import { LevelEventLog } from '../../store/level-event-log.js';
import { describeEvent, matches, parseBound, parseTypes, seqRange, type LogFilter } from '../../store/log-query.js';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { handled } from '../render.js';

type Args = HomeArgs & { path?: string; peer?: string; type?: string; since?: string; until?: string; limit?: number };

export function filterFrom(argv: { path?: string; peer?: string; type?: string; since?: string; until?: string }): LogFilter {
  const f: { -readonly [K in keyof LogFilter]: LogFilter[K] } = {};
  if (argv.path !== undefined) f.path = argv.path.replace(/\/+$/, '');
  if (argv.peer !== undefined) f.peer = argv.peer;
  const types = parseTypes(argv.type);
  if (types !== undefined) f.types = types;
  const since = parseBound(argv.since, '--since');
  if (since !== undefined) f.since = since;
  const until = parseBound(argv.until, '--until');
  if (until !== undefined) f.until = until;
  return f;
}

/** Stream matching events from an open log to `out`. */
export async function queryLog(log: LevelEventLog, filter: LogFilter, out: (e: RecordedEvent) => void): Promise<number> {
  let n = 0;
  for await (const e of log.read(seqRange(filter))) {
    if (matches(e, filter)) {
      out(e);
      n++;
    }
  }
  return n;
}

const module_: CommandModule<object, Args> = {
  command: 'log',
  describe: 'print the event log (filter by --path, --peer, --type, --since, --until)',
  builder: (y) =>
    withHome(y)
      .option('path', { type: 'string', describe: 'events concerning this path (or anything under it)' })
      .option('peer', { type: 'string', describe: 'events recorded by or naming this peer (id or prefix)' })
      .option('type', { type: 'string', describe: 'comma-separated event types, e.g. ConflictDetected,FileCommitted' })
      .option('since', { type: 'string', describe: 'from this sequence number or ISO time' })
      .option('until', { type: 'string', describe: 'up to this sequence number or ISO time' }),
  handler: handled(async (argv) => {
    const paths = resolveNetwork(argv.home, argv.name);
    const filter = filterFrom(argv);
    const print = (e: RecordedEvent): void => {
      process.stdout.write(argv.json ? `${JSON.stringify(e)}\n` : `${describeEvent(e)}\n`);
    };
    let log: LevelEventLog;
    try {
      log = await LevelEventLog.open(paths.db);
    } catch (e) {
      if (!isPloppyError(e, 'LOG_LOCKED')) throw e;
      await callControl(paths.socket, { op: 'log', filter: argv }, (item) => print(item as RecordedEvent));
      return;
    }
    try {
      await queryLog(log, filter, print);
    } finally {
      await log.close();
    }
  }),
};
export default module_;
