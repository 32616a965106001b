/**
 * Swarm testing (Groce et al.; TigerBeetle's VOPR): one root seed derives
 * every knob of a run: how many peers, which topology, which faults are on and
 * at what rates, and the workload mix. Different seeds explore different
 * corners (a run with only duplicates and crashes finds different bugs from a
 * run with every fault at once).
 *
 * Every draw happens whether or not an override replaces it, so a run given
 * `--peers`/`--faults` equal to what its seed would have chosen is the very
 * same run: the replay command a failure prints is exact.
 */
import type { Rng } from '../core/rng.js';
import { seededRng } from '../core/rng.js';
import { PloppyError } from '../core/errors.js';

export const faultNames = [
  'drop', 'delay', 'reorder', 'duplicate', 'partition', 'asym-partition', 'clog',
  'crash', 'pause', 'disk-full', 'skew', 'corrupt', 'hostile',
] as const;
export type FaultName = (typeof faultNames)[number];

export const topologies = ['line', 'star', 'ring', 'full', 'random'] as const;
export type Topology = (typeof topologies)[number];

export const workloadOps = [
  'create', 'modify', 'chmod', 'delete', 'rename', 'caseRename', 'swap', 'mkdir', 'symlink', 'concurrent',
] as const;
export type WorkloadOp = (typeof workloadOps)[number];

export interface FaultRates {
  /** Probability that a packet is lost; TCP turns a loss into a connection reset. */
  readonly dropPerPacket: number;
  readonly delayMsMax: number;
  /** Extra per-link latency spread, so messages overtake each other across links. */
  readonly reorderSpreadMs: number;
  readonly duplicatePerPacket: number;
  readonly partitionEveryMs: number;
  readonly partitionMsMax: number;
  readonly clogEveryMs: number;
  readonly clogMsMax: number;
  readonly crashEveryMs: number;
  readonly crashDownMsMax: number;
  /** Probability that a crash lands in the middle of a handle() call's outputs. */
  readonly crashMidOutput: number;
  readonly pauseEveryMs: number;
  readonly pauseMsMax: number;
  readonly diskFullEveryMs: number;
  readonly diskFullMsMax: number;
  readonly skewMsMax: number;
  readonly corruptPerBlock: number;
  readonly hostileEveryMs: number;
}

export interface WorkloadKnobs {
  /** Mean virtual time between user actions (anywhere in the swarm). */
  readonly opEveryMs: number;
  readonly mix: Readonly<Record<WorkloadOp, number>>;
  /** How many distinct names the workload draws from (small pools collide more). */
  readonly namePool: number;
  readonly largeFileRate: number;
  /** Probability that new content comes from a tiny shared pool (identical concurrent edits). */
  readonly sharedContentRate: number;
  /** Probability that a user's write is fsynced (unsynced writes vanish in a crash). */
  readonly userSyncRate: number;
}

export interface Knobs {
  readonly seed: number;
  readonly peers: number;
  readonly steps: number;
  readonly topology: Topology;
  readonly faults: readonly FaultName[];
  readonly rates: FaultRates;
  readonly workload: WorkloadKnobs;
  readonly latencyMsMin: number;
  readonly latencyMsMax: number;
  readonly scanDelayMsMax: number;
  readonly diskLatencyMsMax: number;
  readonly reconnectDelayMsMax: number;
}

export interface KnobOverrides {
  readonly peers?: number;
  readonly steps?: number;
  readonly faults?: readonly FaultName[];
  readonly topology?: Topology;
}

export const peersMin = 3;
export const peersMax = 8;
export const defaultSteps = 1500;

const between = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng.next() * (hi - lo + 1));

function drawRates(rng: Rng): FaultRates {
  return {
    dropPerPacket: rng.pick([0.001, 0.005, 0.02]),
    delayMsMax: rng.pick([20, 200, 2000]),
    reorderSpreadMs: rng.pick([10, 100, 500]),
    duplicatePerPacket: rng.pick([0.01, 0.05, 0.2]),
    partitionEveryMs: rng.pick([2_000, 10_000]),
    partitionMsMax: rng.pick([1_000, 10_000, 40_000]),
    clogEveryMs: rng.pick([1_000, 5_000]),
    clogMsMax: rng.pick([200, 2_000]),
    crashEveryMs: rng.pick([3_000, 15_000]),
    crashDownMsMax: rng.pick([500, 5_000, 30_000]),
    crashMidOutput: rng.pick([0, 0.5]),
    pauseEveryMs: rng.pick([3_000, 10_000]),
    pauseMsMax: rng.pick([500, 5_000, 30_000]),
    diskFullEveryMs: rng.pick([3_000, 10_000]),
    diskFullMsMax: rng.pick([500, 5_000]),
    skewMsMax: rng.pick([1_000, 60_000, 3_600_000]),
    corruptPerBlock: rng.pick([0.05, 0.3]),
    hostileEveryMs: rng.pick([500, 3_000]),
  };
}

function drawWorkload(rng: Rng): WorkloadKnobs {
  const mix = {} as Record<WorkloadOp, number>;
  // Swarm the mix too: each op is sometimes absent, sometimes dominant.
  for (const op of workloadOps) mix[op] = rng.pick([0, 1, 1, 3, 8]);
  if (workloadOps.every((op) => mix[op] === 0)) mix.create = 1;
  mix.create = Math.max(mix.create, 1);
  return {
    opEveryMs: rng.pick([20, 100, 400]),
    mix,
    namePool: rng.pick([3, 6, 12, 24]),
    largeFileRate: rng.pick([0, 0.02, 0.1]),
    sharedContentRate: rng.pick([0, 0.2, 0.6]),
    userSyncRate: rng.pick([1, 1, 0.5]),
  };
}

/** Derive every knob of a run from its seed (and the few overrides the CLI allows). */
export function deriveKnobs(seed: number, overrides: KnobOverrides = {}): Knobs {
  const rng = seededRng(seed).fork('knobs');
  const peers = between(rng, peersMin, peersMax);
  const topology = rng.pick(topologies);
  const drawn = faultNames.filter(() => rng.chance(0.4));
  const rates = drawRates(rng);
  const workload = drawWorkload(rng);
  const latencyMsMin = rng.pick([0, 1, 5]);
  const latencyMsMax = latencyMsMin + rng.pick([1, 10, 50]);
  const knobs: Knobs = {
    seed,
    peers: overrides.peers ?? peers,
    steps: overrides.steps ?? defaultSteps,
    topology: overrides.topology ?? topology,
    faults: [...(overrides.faults ?? drawn)].sort(),
    rates,
    workload,
    latencyMsMin,
    latencyMsMax,
    scanDelayMsMax: rng.pick([0, 5, 50]),
    diskLatencyMsMax: rng.pick([0, 2, 20]),
    reconnectDelayMsMax: rng.pick([50, 1_000, 5_000]),
  };
  if (knobs.peers < 2 || knobs.peers > 64) throw new PloppyError('USAGE', `--peers must be 2..64, got ${knobs.peers}`);
  return knobs;
}

export function parseFaults(list: string): FaultName[] {
  const trimmed = list.trim();
  if (trimmed === '' || trimmed === 'none') return [];
  if (trimmed === 'all') return [...faultNames];
  return trimmed.split(',').map((raw) => {
    const name = raw.trim();
    if (!(faultNames as readonly string[]).includes(name)) {
      throw new PloppyError('USAGE', `unknown fault ${JSON.stringify(name)} (known: ${faultNames.join(', ')}, all, none)`);
    }
    return name as FaultName;
  });
}

export const hasFault = (k: Knobs, f: FaultName): boolean => k.faults.includes(f);

/** One line for people: `SEED=... peers=... topology=... faults=...`. */
export function describeKnobs(k: Knobs): string {
  const mix = Object.entries(k.workload.mix).filter(([, w]) => w > 0).map(([op, w]) => `${op}:${w}`).join(',');
  return (
    `SEED=${k.seed} peers=${k.peers} steps=${k.steps} topology=${k.topology} faults=${k.faults.join(',') || 'none'} ` +
    `latency=${k.latencyMsMin}-${k.latencyMsMax}ms opEvery=${k.workload.opEveryMs}ms names=${k.workload.namePool} mix=${mix}`
  );
}

/** The one-line command that replays a run. */
export function replayCommand(k: Knobs): string {
  return `npx ploppy sim --seed ${k.seed} --peers ${k.peers} --steps ${k.steps} --topology ${k.topology} --faults ${k.faults.join(',') || 'none'}`;
}
