/**
 * A crash at any point leaves a log whose projection head equals its log
 * head, with no half-written batch visible: what survives is exactly a prefix
 * of the writes, at least every write that was acknowledged as durable, and
 * the persisted projections equal the fold of that prefix.
 *
 * MemoryEventLog crashes by `crash()` (unsynced batches are lost); the
 * LevelEventLog case kills a writer process with SIGKILL between or during
 * batches and reopens its database.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import type { StampedEvent } from '../../src/engine/types.js';
import type { RecordedEvent } from '../../src/events/types.js';
import { serialiseState } from '../../src/projections/snapshot.js';
import { evolve, evolveAll, initialState } from '../../src/projections/state.js';
import type { EventLog } from '../../src/store/event-log.js';
import { LevelEventLog } from '../../src/store/level-event-log.js';
import { MemoryEventLog } from '../../src/store/memory-event-log.js';
import { batchSizesArb, splitIntoBatches, stampedSequenceArb } from './arbitraries.js';
import { crashWrites, expectedRecords } from './crash-workload.js';

const root = mkdtempSync(join(tmpdir(), 'ploppy-prop-crash-'));

async function readAll(log: EventLog): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of log.read()) out.push(e);
  return out;
}

/**
 * The invariants after a restart: the stored records are the first `head` of
 * `expected`, `head` is a write boundary no lower than `acknowledged`, the
 * chain verifies, and the projections (the stored checkpoint with the tail
 * folded in) reflect exactly that head.
 */
async function checkRestarted(log: EventLog, expected: readonly { seq: number; id: string }[], boundaries: ReadonlySet<number>, acknowledged: number) {
  const head = log.head();
  assert.ok(boundaries.has(head), `head ${head} is not at a write boundary: a batch is half there`);
  assert.ok(head >= acknowledged, `head ${head} lost acknowledged writes up to ${acknowledged}`);
  const verdict = await log.verify();
  assert.ok(verdict.ok, !verdict.ok ? verdict.message : '');
  assert.equal(verdict.head, head);
  const records = await readAll(log);
  assert.deepEqual(records.map((e) => [e.seq, e.id]), expected.slice(0, head).map((e) => [e.seq, e.id]));
  const loaded = await log.loadState();
  assert.equal(loaded.meta.head, head, 'projection head == log head');
  // The stored projections may lag (a checkpoint); loadState folded the tail, and the keys
  // it dirtied wait for the next checkpoint: the fold of exactly the surviving records.
  assert.equal(serialiseState(loaded), serialiseState(evolveAll(initialState(), records)));
}

describe('a crash at any point', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('MemoryEventLog, manual commit: exactly the flushed writes survive', async () => {
    const scenario = stampedSequenceArb({ maxLength: 50 }).chain((events) =>
      fc.tuple(fc.constant(events), batchSizesArb, fc.array(fc.boolean(), { minLength: 50, maxLength: 50 })),
    );
    await fc.assert(
      fc.asyncProperty(scenario, async ([events, sizes, flushAfter]) => {
        const log = new MemoryEventLog({ commit: 'manual' });
        const state = initialState();
        const boundaries = new Set([0]);
        let flushed = 0;
        splitIntoBatches(events, sizes).forEach((batch, i) => {
          for (const e of batch) evolve(state, e as unknown as RecordedEvent);
          void log.write(batch, state);
          boundaries.add(log.head());
          if (flushAfter[i]) {
            log.flush();
            flushed = log.head();
          }
        });
        const restarted = log.crash();
        assert.equal(restarted.head(), flushed);
        await checkRestarted(restarted, events, boundaries, flushed);
      }),
      { numRuns: 150 },
    );
  });

  it('MemoryEventLog, auto commit: a crash between any two turns keeps a prefix of whole writes', async () => {
    const scenario = stampedSequenceArb({ maxLength: 50 }).chain((events) =>
      fc.tuple(fc.constant(events), batchSizesArb, fc.array(fc.nat({ max: 3 }), { minLength: 50, maxLength: 50 })),
    );
    await fc.assert(
      fc.asyncProperty(scenario, async ([events, sizes, turnsAfter]) => {
        const log = new MemoryEventLog();
        const state = initialState();
        const boundaries = new Set([0]);
        let acknowledged = 0;
        const batches = splitIntoBatches(events, sizes);
        for (const [i, batch] of batches.entries()) {
          for (const e of batch) evolve(state, e as unknown as RecordedEvent);
          const last = (batch[batch.length - 1] as StampedEvent).seq;
          void log.write(batch, state).then(() => (acknowledged = Math.max(acknowledged, last)));
          boundaries.add(log.head());
          for (let t = 0; t < (turnsAfter[i] ?? 0); t++) await Promise.resolve();
        }
        await checkRestarted(log.crash(), events, boundaries, acknowledged);
      }),
      { numRuns: 150 },
    );
  });

  it('LevelEventLog: a writer killed between or during batches', async () => {
    const writer = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
    const eventsPerRun = 3000;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.nat({ max: 60 }), async (seed, killAfterAcks) => {
        const dir = join(root, `db-${runs++}`);
        const writes = crashWrites(seed, eventsPerRun);
        const boundaries = new Set([0]);
        let total = 0;
        for (const w of writes) boundaries.add((total += w.length));
        const acknowledged = await killWriter(writer, dir, seed, eventsPerRun, killAfterAcks);
        const log = await LevelEventLog.open(dir);
        try {
          await checkRestarted(log, await expectedRecords(writes), boundaries, acknowledged);
        } finally {
          await log.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 4 },
    );
  });
});

/**
 * Run the writer child and SIGKILL it once it has acknowledged `killAfterAcks`
 * writes (more writes are in flight by then, so the kill lands during a batch
 * as often as between two). Returns the highest acknowledged sequence.
 */
function killWriter(script: string, dir: string, seed: number, events: number, killAfterAcks: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(seed), String(events)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acknowledged = 0;
    let acks = 0;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^durable (\d+)$/.exec(line);
        if (m === null) continue;
        acknowledged = Math.max(acknowledged, Number(m[1]));
        if (++acks >= killAfterAcks) child.kill('SIGKILL');
      }
      if (killAfterAcks === 0 && lines.includes('ready')) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', () => resolve(acknowledged));
  });
}
