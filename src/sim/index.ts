/**
 * The deterministic simulator: `simulate` runs one seed against the real
 * engine and projections (only the network, disks, clock and randomness are
 * simulated) and returns the verdict.
 */
import { createEngine } from '../engine/index.js';
import { runSim, type SimOptions, type SimResult } from './run.js';

export type SimulateOptions = Omit<SimOptions, 'createEngine'>;

export const simulate = (options: SimulateOptions): Promise<SimResult> => runSim({ ...options, createEngine });

export { finishRun, formatResult, knobsFor, type SimOptions, type SimResult } from './run.js';
export { World, type EngineFactory } from './world.js';
export { bugNames, parseBugs, type BugName } from './bugs.js';
export { deriveKnobs, describeKnobs, faultNames, parseFaults, replayCommand, topologies, type FaultName, type Knobs, type Topology } from './knobs.js';
export { invariantNames, type InvariantName, type Violation } from './world.js';
