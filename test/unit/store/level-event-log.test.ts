/**
 * LevelEventLog: the contract, plus what only a real database has: the LOCK
 * another process holds, and the key layout on disk.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { isPloppyError } from '../../../src/core/errors.js';
import { appendEvents } from '../../../src/store/append.js';
import { encodeHead, headKey, logKey, logStart, logEnd, seqOfLogKey } from '../../../src/store/encoding.js';
import { LevelEventLog, logChunkBytes, logChunkEventsMax } from '../../../src/store/level-event-log.js';
import { eventLogContract } from './contract.js';
import { recorder, sampleEvents } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'ploppy-level-log-'));
let databases = 0;
const freshDir = (): string => join(root, `db-${databases++}`);

async function raw<T>(location: string, f: (db: ClassicLevel<Buffer, string>) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<Buffer, string>(location, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  await db.open();
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}

eventLogContract<LevelEventLog>({
  name: 'LevelEventLog',
  create: (options) => LevelEventLog.open(freshDir(), options),
  reopen: async (log, options) => {
    await log.close();
    return LevelEventLog.open(log.location, options);
  },
  injectRecord: async (log, seq, value, options) => {
    await log.close();
    await raw(log.location, async (db) => {
      await db.batch().put(logKey(seq), value).put(headKey, encodeHead({ seq, hash: value.slice(0, 64) })).write();
    });
    return LevelEventLog.open(log.location, options);
  },
  batches: (log) => log.batches,
  openIterators: (log) => log.openIterators,
  cleanup: async () => rmSync(root, { recursive: true, force: true }),
});

const holder = fileURLToPath(new URL('./hold-lock.ts', import.meta.url));

describe('LevelEventLog on disk', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('reports a LOCK held by another process as LOG_LOCKED, naming the path', async () => {
    const dir = freshDir();
    const child = spawn(process.execPath, ['--import', 'tsx', holder, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.on('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
      });
      await assert.rejects(LevelEventLog.open(dir), (e: unknown) => isPloppyError(e, 'LOG_LOCKED') && e.message.includes(dir));
    } finally {
      child.stdin.end();
    }
    assert.equal(await exited, 0);
    const log = await LevelEventLog.open(dir);
    await log.close();
  });

  it('on a full disk: DISK_FULL for the write and for opening, and nothing acknowledged is lost', async (t) => {
    // A small tmpfs of our own is the full disk (mounting needs root, as CI has).
    const mountPoint = join(root, 'full');
    mkdirSync(mountPoint);
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
    if (mount.status !== 0) {
      t.skip(`cannot mount a tmpfs here: ${mount.stderr.toString().trim()}`);
      return;
    }
    try {
      const dir = join(mountPoint, 'log');
      let log = await LevelEventLog.open(dir);
      const r = recorder();
      let acknowledged = 0;
      const failure = await (async () => {
        for (;;) {
          const events = r.stamp([{ type: 'TimerFired', data: { timer: 'x'.repeat(4000 + (log.head() % 7)) } }], log.head());
          try {
            await appendEvents(log, r.state, events);
            acknowledged = log.head();
          } catch (e) {
            return e;
          }
        }
      })();
      assert.ok(isPloppyError(failure, 'DISK_FULL'), String(failure));
      assert.match(failure.message, new RegExp(`events after seq ${acknowledged} were not recorded`));
      await log.close().catch(() => undefined);
      // Still full: opening says so. With room again, every acknowledged event is there and the chain holds.
      await assert.rejects(LevelEventLog.open(dir), (e: unknown) => isPloppyError(e, 'DISK_FULL') && e.message.includes(dir));
      assert.equal(spawnSync('mount', ['-o', 'remount,size=4m', mountPoint]).status, 0);
      log = await LevelEventLog.open(dir);
      assert.equal(log.head(), acknowledged);
      const verdict = await log.verify();
      assert.equal(verdict.ok && verdict.head, acknowledged, verdict.ok ? '' : verdict.message);
      assert.equal((await log.loadState()).meta.head, acknowledged);
      await log.close();
    } finally {
      spawnSync('umount', [mountPoint]);
    }
  });

  it('stores records in chunks keyed by their last sequence, 8 bytes big-endian, so byte order is sequence order', async () => {
    const log = await LevelEventLog.open(freshDir());
    const r = recorder();
    for (let i = 0; i < 3; i++) await appendEvents(log, r.state, r.stamp(sampleEvents(log.head() + 1, 100), log.head()));
    await log.close();
    const chunks = await raw(log.location, async (db) => (await db.iterator({ gte: logStart, lt: logEnd }).all()));
    assert.ok(chunks.every(([k]) => k.length === 9));
    // A chunk never spans two batches (each write here was its own batch) and is bounded in records and bytes.
    const keys = chunks.map(([k]) => seqOfLogKey(k));
    for (const boundary of [100, 200, 300]) assert.ok(keys.includes(boundary), `a chunk ends with the batch at ${boundary}`);
    assert.ok(keys.length >= 6 && keys.length < 300, `${keys.length} chunks for 300 records`);
    assert.ok(chunks.every(([, v]) => Buffer.byteLength(v) < logChunkBytes + 4096));
    const records = chunks.flatMap(([k, v]) => {
      const inChunk = v.split('\n').map((record) => (JSON.parse(record.slice(64)) as { seq: number }).seq);
      assert.ok(inChunk.length <= logChunkEventsMax);
      assert.equal(inChunk[inChunk.length - 1], seqOfLogKey(k), 'a chunk is keyed by its last record');
      return inChunk;
    });
    assert.deepEqual(records, Array.from({ length: 300 }, (_, i) => i + 1));
    assert.equal(seqOfLogKey(logKey(2 ** 40 + 5)), 2 ** 40 + 5);
    assert.ok(Buffer.compare(logKey(255), logKey(256)) < 0);
  });
});
