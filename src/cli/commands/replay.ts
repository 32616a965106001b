/**
 * `ploppy replay [--until SEQ] [--verify]`: rebuild the projections from the
 * log, compare them with the stored ones and check the hash chain. Exit 0 when
 * everything agrees, 1 naming the first difference. Works offline (opening the
 * database) or through a running daemon (which holds the database's lock).
 */
import type { CommandModule } from 'yargs';
import { isPloppyError } from '../../core/errors.js';
import { callControl } from '../../daemon/control.js';
import { LevelEventLog } from '../../store/level-event-log.js';
import { replayReport, type ReplayReport } from '../../store/replay.js';
import { decisionVerifier } from '../../store/verify-decisions.js';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { emit, exitCodes, handled } from '../render.js';

type Args = HomeArgs & { until?: number; verify: boolean };

export async function replayOffline(db: string, until: number | undefined, verify: boolean): Promise<ReplayReport> {
  const log = await LevelEventLog.open(db);
  try {
    return await replayReport(log, () => log.loadState(), { ...(until === undefined ? {} : { until }), ...(verify ? { verifyDecisions: decisionVerifier } : {}) });
  } finally {
    await log.close();
  }
}

export function describeReport(r: ReplayReport): string {
  const lines = [`replayed ${r.replayedTo} of ${r.head} events: ${r.files} files, ${r.peers} peers, ${r.conflicts} conflicts, ${r.transfers} transfers`];
  lines.push(r.chain.ok ? `hash chain: ok (head ${r.chain.head})` : `hash chain: BROKEN at seq ${r.chain.seq}: ${r.chain.message}`);
  if (r.compared) lines.push(r.difference === null ? 'projections: rebuilt state equals the stored state' : `projections: DIFFER: ${r.difference}`);
  else lines.push(`projections: state as of seq ${r.replayedTo} (not compared: the stored projections reflect seq ${r.head})`);
  if (r.decisions !== undefined) {
    lines.push(r.decisions.ok ? `decisions: ${r.decisions.checked} inputs re-run, same decisions` : `decisions: DIFFER: ${r.decisions.firstMismatch}`);
  }
  return lines.join('\n');
}

const module_: CommandModule<object, Args> = {
  command: 'replay',
  describe: 'rebuild projections from the log, compare them with the stored ones and check the hash chain',
  builder: (y) =>
    withHome(y)
      .option('until', { type: 'number', describe: 'replay only up to this sequence number' })
      .option('verify', { type: 'boolean', default: false, describe: 're-run the decisions over the recorded inputs and check they come out the same' }),
  handler: handled(async (argv) => {
    const paths = resolveNetwork(argv.home, argv.name);
    let report: ReplayReport;
    try {
      report = await replayOffline(paths.db, argv.until, argv.verify);
    } catch (e) {
      if (!isPloppyError(e, 'LOG_LOCKED')) throw e;
      report = (await callControl(paths.socket, { op: 'replay', until: argv.until, verify: argv.verify })) as ReplayReport;
    }
    emit(argv.json, report, () => describeReport(report));
    return report.ok ? exitCodes.ok : exitCodes.failure;
  }),
};
export default module_;
