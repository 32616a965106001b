/**
 * `ploppy sim`: run the deterministic simulator. One seed derives every knob;
 * `--peers`, `--steps`, `--topology` and `--faults` override what it chose
 * (a failure prints the exact command that replays it). Exit 0 when every
 * invariant held, 1 when one broke.
 */
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { PloppyError } from '../../core/errors.js';
import { formatResult, parseBugs, parseFaults, simulate, topologies, type SimResult, type Topology } from '../../sim/index.js';
import { exitCodes, handled } from '../render.js';
import { fromLogsHelp, simFromLogs } from '../../audit/sim-command.js';

interface Args {
  seed: number | undefined;
  count: number;
  peers: number | undefined;
  steps: number | undefined;
  topology: string | undefined;
  faults: string | undefined;
  bugs: string | undefined;
  json: boolean;
  trace: string | undefined;
  'from-logs': string[] | undefined;
  perturb: boolean;
  runs: number;
}

const summary = (r: SimResult) => ({
  ok: r.ok,
  seed: r.seed,
  knobs: r.knobs,
  violations: r.violations,
  traceHash: r.traceHash,
  steps: r.steps,
  virtualMs: r.virtualMs,
  convergedAtMs: r.convergedAtMs,
  messages: r.stats.sent,
  reportDir: r.reportDir,
  replay: r.replay,
});

function positive(n: number | undefined, what: string): number | undefined {
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) throw new PloppyError('USAGE', `${what} must be a non-negative integer, got ${n}`);
  return n;
}

const module_: CommandModule<object, Args> = {
  command: 'sim',
  describe: 'run the deterministic multi-peer simulator (exit 1 when an invariant breaks)',
  builder: (y) =>
    y
      .option('seed', { type: 'number', describe: 'root seed (default: random, printed as SEED=)' })
      .option('count', { type: 'number', default: 1, describe: 'run this many consecutive seeds' })
      .option('peers', { type: 'number', describe: 'number of peers (default: chosen by the seed, 3-8)' })
      .option('steps', { type: 'number', describe: 'agenda steps in the safety phase' })
      .option('topology', { type: 'string', choices: [...topologies], describe: 'who can reach whom (default: chosen by the seed)' })
      .option('faults', { type: 'string', describe: 'comma-separated faults, or all / none (default: chosen by the seed)' })
      .option('bugs', { type: 'string', describe: 'plant bugs (drop-tombstones, no-conflict-copy, apply-duplicates, skip-hash-check) to see the checkers bite' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per run' })
      .option('trace', { type: 'string', describe: 'write every trace line of the (last) run to this file' })
      .option('from-logs', { type: 'string', array: true, describe: fromLogsHelp })
      .option('perturb', { type: 'boolean', default: false, describe: 'with --from-logs: drop or delay deliveries (seeded by --seed) to see which orders change the outcome' })
      .option('runs', { type: 'number', default: 1, describe: 'with --perturb: try this many consecutive seeds' }) as never,
  handler: handled(async (argv: Args) => {
    if (argv['from-logs'] !== undefined) return simFromLogs(argv['from-logs'], argv.perturb ? (positive(argv.seed, '--seed') ?? randomInt(2 ** 31)) : null, positive(argv.runs, '--runs') ?? 1, argv.json);
    const first = positive(argv.seed, '--seed') ?? randomInt(2 ** 31);
    const count = positive(argv.count, '--count') ?? 1;
    const faults = argv.faults === undefined ? undefined : parseFaults(argv.faults);
    const bugs = argv.bugs === undefined ? [] : parseBugs(argv.bugs);
    let failed = 0;
    for (let seed = first; seed < first + count; seed++) {
      const r = await simulate({
        seed,
        bugs,
        keepTrace: argv.trace !== undefined,
        ...(argv.peers === undefined ? {} : { peers: positive(argv.peers, '--peers') as number }),
        ...(argv.steps === undefined ? {} : { steps: positive(argv.steps, '--steps') as number }),
        ...(argv.topology === undefined ? {} : { topology: argv.topology as Topology }),
        ...(faults === undefined ? {} : { faults }),
      });
      if (!r.ok) failed++;
      if (argv.trace !== undefined && r.trace !== null) writeFileSync(argv.trace, r.trace.join('\n') + '\n');
      process.stdout.write(argv.json ? `${JSON.stringify(summary(r))}\n` : `${formatResult(r)}\n`);
    }
    if (count > 1 && !argv.json) process.stdout.write(`${count - failed}/${count} seeds passed\n`);
    return failed === 0 ? exitCodes.ok : exitCodes.failure;
  }),
};

export default module_;
