/**
 * `npm run bench -- sim [--seconds S] [--seed N] [--peers K] [--faults LIST] [--json]`
 *
 * The simulator's speed on one core, as CI uses it: whole seeded runs (the
 * real engine and projections over in-memory logs, faults, checkers and the
 * end-of-run verdict included), one after another from --seed until S
 * seconds of wall time have passed. Reports messages delivered per second
 * and simulated time over wall time (the last line is JSON with --json).
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
  }
  const wallMs = performance.now() - started;
  const result = {
    bench: 'sim',
    runs,
    passed,
    firstSeed: o.seed,
    wallSeconds: Math.round(wallMs / 100) / 10,
    deliveredMessages: delivered,
    deliveredMessagesPerSec: Math.round((delivered / wallMs) * 1000),
    engineInputsPerSec: Math.round((handled / wallMs) * 1000),
    stepsPerSec: Math.round((steps / wallMs) * 1000),
    simulatedSeconds: Math.round(virtualMs / 1000),
    simToWallRatio: Math.round(virtualMs / wallMs),
    targets: { deliveredMessagesPerSec: 50_000, simToWallRatio: 100 },
  };
  console.log(`sim: ${runs} runs (${passed} passed) in ${result.wallSeconds} s, one core`);
  console.log(`  delivered messages  ${result.deliveredMessagesPerSec}/s (target 50000)`);
  console.log(`  engine inputs       ${result.engineInputsPerSec}/s`);
  console.log(`  agenda steps        ${result.stepsPerSec}/s`);
  console.log(`  simulated / wall    ${result.simToWallRatio}x (target 100)`);
  if (o.json) console.log(JSON.stringify(result));
}
