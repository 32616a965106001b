/**
 * The world's own machinery (clock, timers, skew, pauses, crashes, links),
 * tested with a stand-in engine that records its inputs. The real engine runs
 * in test/sim; this only checks that the simulator delivers what it promises.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Engine, Input, Output } from '../../../src/engine/types.js';
import { initialState } from '../../../src/projections/state.js';
import { deriveKnobs } from '../../../src/sim/knobs.js';
import { simEpochMs, World, type EngineArgs } from '../../../src/sim/world.js';

interface Recorder extends Engine {
  readonly inputs: { input: Input; nowMs: number }[];
}

function world(react: (e: Recorder, input: Input, nowMs: number) => Output[] = () => []) {
  const engines: Recorder[] = [];
  const createEngine = (_args: EngineArgs): Engine => {
    const e: Recorder = { state: initialState(), inputs: [], handle: (input, nowMs) => (e.inputs.push({ input, nowMs }), react(e, input, nowMs)) };
    engines.push(e);
    return e;
  };
  const knobs = { ...deriveKnobs(5, { peers: 3, faults: [], topology: 'line' }), latencyMsMin: 10, latencyMsMax: 10 };
  const w = new World({ knobs, createEngine });
  return { w, engines };
}

const run = async (w: World, untilMs: number): Promise<void> => {
  while (w.heap.size > 0 && (w.heap.peek()?.atMs ?? Infinity) <= untilMs) await w.step();
};
const kinds = (e: Recorder | undefined): string[] => (e?.inputs ?? []).map(({ input }) => (input.kind === 'received' ? `received ${input.msg.cmd}` : input.kind));

test('start: create or join, then each link comes up with connected and HELLO on both ends', async () => {
  const { w, engines } = world();
  w.start();
  await run(w, 100);
  assert.equal(engines.length, 3);
  assert.deepEqual(kinds(engines[0]).slice(0, 3), ['command', 'connected', 'received HELLO']);
  assert.deepEqual(kinds(engines[1]).filter((k) => k === 'connected').length, 2, 'the middle of a line has two links');
  assert.ok(w.network.isUp(0, 1) && w.network.isUp(1, 2) && !w.network.isUp(0, 2));
});

test('timers fire at the engine clock time asked for, skew included', async () => {
  const { w, engines } = world((e, input, nowMs) => (input.kind === 'command' ? [{ kind: 'setTimer', timer: 't', atMs: nowMs + 1000 }] : []));
  w.start();
  await run(w, 5000);
  const fired = engines[0]?.inputs.find(({ input }) => input.kind === 'timer');
  assert.ok(fired !== undefined);
  assert.equal(fired.nowMs, simEpochMs + 1000 + (w.peers[0]?.skewMs ?? 0));
});

test('a paused peer reads nothing until it resumes, then everything in order', async () => {
  const { w, engines } = world();
  w.start();
  const p1 = w.peers[1];
  assert.ok(p1 !== undefined);
  w.pause(p1, 1000);
  await run(w, 500);
  assert.deepEqual(kinds(engines[1]), ['command'], 'only what came before the pause');
  await run(w, 1500);
  assert.ok(kinds(engines[1]).includes('connected'), 'the queued inputs arrive on resume');
});

test('a crash drops the process: its links go down, its timers die, and a restart starts a new engine', async () => {
  const { w, engines } = world((e, input, nowMs) => (input.kind === 'command' ? [{ kind: 'setTimer', timer: 't', atMs: nowMs + 1000 }] : []));
  w.start();
  await run(w, 100);
  const p1 = w.peers[1];
  assert.ok(p1 !== undefined && w.network.isUp(0, 1));
  w.crash(p1, 'test');
  assert.equal(w.network.isUp(0, 1), false);
  assert.ok(kinds(engines[0]).includes('disconnected'), 'the other end hears of it');
  await run(w, 5000);
  assert.ok(!kinds(engines[1]).includes('timer'), 'a dead process fires no timer');
  await w.restart(p1);
  assert.equal(engines.length, 4, 'a new engine for the new process');
  await run(w, 6000);
  assert.ok(w.network.isUp(0, 1), 'the transport redials');
});

test('a message an engine sends arrives after the link latency', async () => {
  const { w, engines } = world((e, input) =>
    input.kind === 'received' && input.msg.cmd === 'HELLO' ? [{ kind: 'send', to: input.from, msg: { cmd: 'PING', id: '00000000-0000-4000-8000-000000000001' as never } }] : [],
  );
  w.start();
  await run(w, 1000);
  const pings = engines[1]?.inputs.filter(({ input }) => input.kind === 'received' && input.msg.cmd === 'PING') ?? [];
  assert.ok(pings.length >= 1);
  assert.equal(w.stats.delivered, w.stats.sent);
});
