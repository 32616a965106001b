/**
 * `npm run bench -- sim [--seconds S] [--seed N] [--peers K] [--faults LIST] [--json]`
 *
 * The simulator's speed on one core, as CI uses it: whole seeded runs (the
 * real engine and projections over in-memory logs, faults, checkers and the
 * end-of-run verdict included), one after another from --seed until S
 * seconds of wall time have passed. Reports messages delivered per second
 * while simulating (every phase, with the engine, projections, log, faults
 * and online checks; the end-of-run verdict, which re-reads and re-folds every
 * log, is timed apart and reported too) and simulated time over the wall time
 * of whole runs. The last line is JSON with --json.
 */
import { parseArgs } from 'node:util';
import { parseFaults, simulate, type FaultName } from '../src/sim/index.js';

interface Options {
  readonly seconds: number;
  readonly seed: number;
  readonly peers: number | undefined;
  readonly faults: readonly FaultName[] | undefined;
  readonly json: boolean;
}

function parse(args: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...args],
    options: {
      seconds: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      peers: { type: 'string' },
      faults: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const num = (s: string, what: string): number => {
    const n = Number(s);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${what} must be a positive number`);
    return n;
  };
  return {
    seconds: num(values.seconds, 'seconds'),
    seed: num(values.seed, 'seed'),
    peers: values.peers === undefined ? undefined : num(values.peers, 'peers'),
    faults: values.faults === undefined ? undefined : parseFaults(values.faults),
    json: values.json,
  };
}

export async function run(args: readonly string[]): Promise<void> {
  const o = parse(args);
  let runs = 0;
  let passed = 0;
  let delivered = 0;
  let handled = 0;
  let steps = 0;
  let virtualMs = 0;
  let verdictMs = 0;
  const started = performance.now();
  for (let seed = o.seed; performance.now() - started < o.seconds * 1000; seed++) {
    const r = await simulate({
      seed,
      reportDir: null,
      ...(o.peers === undefined ? {} : { peers: o.peers }),
      ...(o.faults === undefined ? {} : { faults: o.faults }),
    });
    runs++;
    if (r.ok) passed++;
    delivered += r.stats.delivered;
    handled += r.stats.handled;
    steps += r.steps;
    virtualMs += r.virtualMs;
    verdictMs += r.verdictMs;
  }
  const wallMs = performance.now() - started;
  // The simulation proper (every phase, engine, projections, log, faults and online checks), and
  // the whole run including the end-of-run verdict that re-reads and re-folds every log.
  const loopMs = wallMs - verdictMs;
  const perSec = (n: number, ms: number): number => Math.round((n / ms) * 1000);
  const result = {
    bench: 'sim',
    runs,
    passed,
    firstSeed: o.seed,
    wallSeconds: Math.round(wallMs / 100) / 10,
    verdictSeconds: Math.round(verdictMs / 100) / 10,
    deliveredMessages: delivered,
    deliveredMessagesPerSec: perSec(delivered, loopMs),
    deliveredMessagesPerSecWholeRun: perSec(delivered, wallMs),
    engineInputsPerSec: perSec(handled, loopMs),
    stepsPerSec: perSec(steps, loopMs),
    simulatedSeconds: Math.round(virtualMs / 1000),
    simToWallRatio: Math.round(virtualMs / wallMs),
    targets: { deliveredMessagesPerSec: 50_000, simToWallRatio: 100 },
  };
  console.log(`sim: ${runs} runs (${passed} passed) in ${result.wallSeconds} s, one core (${result.verdictSeconds} s of it judging logs at the ends)`);
  console.log(`  delivered messages  ${result.deliveredMessagesPerSec}/s while simulating, ${result.deliveredMessagesPerSecWholeRun}/s over whole runs (target 50000)`);
  console.log(`  engine inputs       ${result.engineInputsPerSec}/s`);
  console.log(`  agenda steps        ${result.stepsPerSec}/s`);
  console.log(`  simulated / wall    ${result.simToWallRatio}x over whole runs (target 100)`);
  if (o.json) console.log(JSON.stringify(result));
}
