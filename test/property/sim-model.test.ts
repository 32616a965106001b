/**
 * Model-based tests (fast-check commands) over the simulator with the real
 * engine: the network's choices are commands, so a failure shrinks to the
 * shortest sequence of deliveries, losses, duplicates, partitions and crashes
 * that breaks an invariant.
 *
 * The model is what the test must know to choose legal commands (which peers
 * are down, whether a partition is on); the real system is a World whose
 * packets wait until a command delivers, drops or duplicates one. Each
 * command must leave the online invariants intact (integrity, idempotence,
 * no engine exception); after the sequence the network heals and the run must
 * pass the liveness phase and every end-of-run checker.
 *
 * Env: SIM_MODEL_RUNS (default 25), SIM_MODEL_SEED + SIM_MODEL_PATH (replay a
 * reported failure), SIM_MODEL_BUGS (plant a bug from src/sim/bugs.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createEngine } from '../../src/engine/index.js';
import { finishRun, formatResult, knobsFor, parseBugs, World } from '../../src/sim/index.js';

const peers = 3;
/** SIM_MODEL_BUGS=drop-tombstones (etc.) plants a bug, to watch a failure shrink. */
const bugs = parseBugs(process.env.SIM_MODEL_BUGS ?? '');

interface Model {
  readonly down: Set<number>;
  isolated: number | null;
}

interface Real {
  readonly w: World;
}

function intact(w: World): void {
  const v = w.violations[0];
  if (v !== undefined) throw new Error(`${v.invariant}: ${v.message}\n${w.trace.tail().slice(-15).join('\n')}`);
}

const held = (w: World): number => w.manual?.length ?? 0;

class Deliver implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (): boolean => true;
  async run(_m: Model, r: Real): Promise<void> {
    if (held(r.w) > 0) r.w.deliverHeld(this.pick % held(r.w));
    intact(r.w);
  }
  toString = (): string => `deliver(${this.pick})`;
}

class Duplicate implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (): boolean => true;
  async run(_m: Model, r: Real): Promise<void> {
    if (held(r.w) > 0) r.w.deliverHeld(this.pick % held(r.w), true);
    intact(r.w);
  }
  toString = (): string => `duplicate(${this.pick})`;
}

class Drop implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (): boolean => true;
  async run(_m: Model, r: Real): Promise<void> {
    if (held(r.w) > 0) r.w.dropHeld(this.pick % held(r.w));
    intact(r.w);
  }
  toString = (): string => `drop(${this.pick})`;
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = (): boolean => true;
  async run(_m: Model, r: Real): Promise<void> {
    await r.w.advance(this.ms);
    intact(r.w);
  }
  toString = (): string => `advance(${this.ms})`;
}

/** A user edits on one peer, or (all) the same instant on every live peer. */
class Edit implements fc.AsyncCommand<Model, Real> {
  constructor(readonly peer: number | 'all') {}
  check = (m: Model): boolean => this.peer === 'all' || !m.down.has(this.peer);
  async run(m: Model, r: Real): Promise<void> {
    const on = r.w.peers.filter((p) => (this.peer === 'all' ? !m.down.has(p.index) : p.index === this.peer));
    r.w.userEdit(on);
    intact(r.w);
  }
  toString = (): string => `edit(${this.peer})`;
}

class Crash implements fc.AsyncCommand<Model, Real> {
  constructor(readonly peer: number) {}
  check = (m: Model): boolean => !m.down.has(this.peer) && m.down.size < peers - 1;
  async run(m: Model, r: Real): Promise<void> {
    r.w.crash(r.w.peers[this.peer] as World['peers'][number], 'model');
    m.down.add(this.peer);
    intact(r.w);
  }
  toString = (): string => `crash(p${this.peer})`;
}

class Restart implements fc.AsyncCommand<Model, Real> {
  constructor(readonly peer: number) {}
  check = (m: Model): boolean => m.down.has(this.peer);
  async run(m: Model, r: Real): Promise<void> {
    await r.w.restart(r.w.peers[this.peer] as World['peers'][number]);
    m.down.delete(this.peer);
    intact(r.w);
  }
  toString = (): string => `restart(p${this.peer})`;
}

/** Cut one peer off from the others (both directions) until Heal. */
class Partition implements fc.AsyncCommand<Model, Real> {
  constructor(readonly peer: number) {}
  check = (m: Model): boolean => m.isolated === null;
  async run(m: Model, r: Real): Promise<void> {
    for (let q = 0; q < peers; q++) {
      if (q === this.peer) continue;
      r.w.network.partition.block(this.peer, q);
      r.w.network.partition.block(q, this.peer);
      r.w.breakLink(this.peer, q, 'partitioned');
    }
    m.isolated = this.peer;
    intact(r.w);
  }
  toString = (): string => `partition(p${this.peer})`;
}

class Heal implements fc.AsyncCommand<Model, Real> {
  check = (m: Model): boolean => m.isolated !== null;
  async run(m: Model, r: Real): Promise<void> {
    r.w.network.partition.healAll();
    for (const [a, b] of r.w.edges) r.w.scheduleConnect(a, b, 1);
    m.isolated = null;
    intact(r.w);
  }
  toString = (): string => 'heal';
}

const peerIndex = fc.integer({ min: 0, max: peers - 1 });
const pick = fc.nat(1000);
const commands = fc.commands(
  [
    pick.map((i) => new Deliver(i)),
    pick.map((i) => new Deliver(i)),
    pick.map((i) => new Deliver(i)),
    pick.map((i) => new Duplicate(i)),
    pick.map((i) => new Drop(i)),
    fc.integer({ min: 1, max: 3000 }).map((ms) => new Advance(ms)),
    peerIndex.map((p) => new Edit(p)),
    peerIndex.map((p) => new Edit(p)),
    fc.oneof(peerIndex, fc.constant('all' as const)).map((p) => new Edit(p)),
    peerIndex.map((p) => new Crash(p)),
    peerIndex.map((p) => new Restart(p)),
    peerIndex.map((p) => new Partition(p)),
    fc.constant(new Heal()),
  ],
  { maxCommands: 60 },
);

test('model-based: network and crash choices as commands; every invariant holds after healing', async () => {
  let lastFailure = '';
  const property = fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 30 }), commands, async (seed, cmds) => {
    const w = new World({ knobs: knobsFor({ seed, peers, faults: [], topology: 'full' }), createEngine, workload: false, bugs });
    w.holdPackets();
    w.start();
    await w.advance(100);
    try {
      await fc.asyncModelRun(() => ({ model: { down: new Set<number>(), isolated: null }, real: { w } }), cmds);
    } catch (e) {
      lastFailure = e instanceof Error ? e.message : String(e);
      throw e;
    }
    w.network.partition.healAll();
    w.releasePackets();
    const r = await finishRun(w, { reportDir: null });
    if (!r.ok) lastFailure = formatResult(r).split('\n').slice(0, 6).join('\n');
    assert.ok(r.ok, lastFailure);
  });
  try {
    // SIM_MODEL_SEED and SIM_MODEL_PATH replay a reported failure.
    const replay = process.env.SIM_MODEL_SEED === undefined ? {} : { seed: Number(process.env.SIM_MODEL_SEED), path: process.env.SIM_MODEL_PATH ?? '' };
    await fc.assert(property, { numRuns: Number(process.env.SIM_MODEL_RUNS ?? 25), interruptAfterTimeLimit: 120_000, markInterruptAsFailure: false, ...replay });
  } catch (e) {
    // fast-check reports the shrunk commands; add what the shrunk run broke.
    throw new Error(`${e instanceof Error ? e.message : String(e)}\nthe smallest failing run broke:\n${lastFailure}`);
  }
});
