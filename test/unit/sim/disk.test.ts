import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockSizeMinBytes } from '../../../src/core/constants.js';
import type { BlockHash, PeerId } from '../../../src/core/ids.js';
import type { SyncPath } from '../../../src/core/path.js';
import { seededRng } from '../../../src/core/rng.js';
import type { FileVersion } from '../../../src/events/version.js';
import { initialState } from '../../../src/projections/state.js';
import { nodeHasher } from '../../../src/store/node-ports.js';
import { SimDisk } from '../../../src/sim/disk.js';
import { SimDriver } from '../../../src/sim/driver.js';
import { seededIds } from '../../../src/sim/ids.js';
import { Scanner } from '../../../src/sim/scanner.js';

const peer = '0123456789abcdef' as PeerId;
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const p = (s: string): SyncPath => s as SyncPath;

function setup() {
  const disk = new SimDisk(nodeHasher);
  const breaches: string[] = [];
  const driver = new SimDriver(disk, nodeHasher, seededIds(seededRng(1)), (m) => breaches.push(m));
  return { disk, driver, breaches, scanner: new Scanner(disk) };
}

const fileVersion = (disk: SimDisk, path: string, data: Uint8Array, mode = 6): FileVersion => ({
  path: p(path), type: 'file', mode, size: data.byteLength, mtimeMs: 5, blockSizeBytes: blockSizeMinBytes,
  blocks: disk.blockHashes(data), deleted: false, vv: { [peer]: 1 }, hlc: { wallMs: 1, counter: 0 }, author: peer,
});

test('a crash loses unsynced writes and keeps synced ones', () => {
  const { disk } = setup();
  disk.put('a', { type: 'file', data: bytes('synced'), mode: 6, mtimeMs: 1 }, true);
  disk.put('a', { type: 'file', data: bytes('not yet'), mode: 6, mtimeMs: 2 }, false);
  disk.put('b', { type: 'directory', mode: 7, mtimeMs: 1 }, false);
  disk.crash();
  assert.deepEqual(disk.paths(), ['a']);
  const a = disk.get('a');
  assert.ok(a?.type === 'file' && new TextDecoder().decode(a.data) === 'synced');
});

test('trees: mkdir -p, rm -r and rename move whole subtrees', () => {
  const { disk } = setup();
  assert.deepEqual(disk.ensureParents('x/y/z', true, 0), ['x', 'x/y']);
  disk.put('x/y/z', { type: 'file', data: bytes('z'), mode: 6, mtimeMs: 0 }, true);
  assert.equal(disk.ensureParents('x/y/z/w', true, 0), null, 'a file is not a directory');
  assert.deepEqual(disk.renameTree('x', 'q', true), [['x', 'q'], ['x/y', 'q/y'], ['x/y/z', 'q/y/z']]);
  assert.deepEqual(disk.removeTree('q', true), ['q', 'q/y', 'q/y/z']);
  assert.deepEqual(disk.paths(), []);
});

test('the driver writes verified blocks into a temp file and commits only a complete, matching file', () => {
  const { disk, driver, breaches } = setup();
  const data = bytes('hello world');
  const v = fileVersion(disk, 'd/f', data);
  const hash = v.blocks[0] as BlockHash;
  assert.equal(driver.execute({ op: 'commitFile', path: p('d/f'), version: v, expect: null }, 0).result.ok, false, 'no blocks yet');
  const w = driver.execute({ op: 'writeBlock', path: p('d/f'), version: v, indices: [0], hash, data }, 0);
  assert.ok(w.result.ok);
  assert.deepEqual(w.created, ['d'], 'the temp file lives beside its target, so the parent is made');
  assert.equal(disk.has('d/f'), false, 'temp files are not in the tree');
  assert.ok(driver.execute({ op: 'commitFile', path: p('d/f'), version: v, expect: null }, 0).result.ok);
  assert.deepEqual(disk.snapshot(), ['d directory 7 ', `d/f file 6 ${hash}`]);
  assert.deepEqual(breaches, []);
});

test('a block that does not match its hash is an integrity breach and never reaches the disk', () => {
  const { disk, driver, breaches } = setup();
  const v = fileVersion(disk, 'f', bytes('good'));
  const r = driver.execute({ op: 'writeBlock', path: p('f'), version: v, indices: [0], hash: v.blocks[0] as BlockHash, data: bytes('evil') }, 0);
  assert.equal(r.result.ok, false);
  assert.equal(!r.result.ok && r.result.code, 'BLOCK_HASH_MISMATCH');
  assert.equal(breaches.length, 1);
  assert.match(breaches[0] as string, /hashes to/);
  assert.equal(driver.execute({ op: 'commitFile', path: p('f'), version: v, expect: null }, 0).result.ok, false);
});

test('a path outside the folder is refused and reported', () => {
  const { disk, driver, breaches } = setup();
  const v = fileVersion(disk, 'f', bytes('x'));
  const r = driver.execute({ op: 'remove', path: p('../etc/passwd'), version: v, expect: null }, 0);
  assert.equal(!r.result.ok && r.result.code, 'PATH_ESCAPES_FOLDER');
  assert.equal(breaches.length, 1);
});

test('never overwrite blind: a file changed since the scan is left alone and rescanned', () => {
  const { disk, driver } = setup();
  const old = bytes('old');
  disk.put('f', { type: 'file', data: old, mode: 6, mtimeMs: 1 }, true);
  const seen = fileVersion(disk, 'f', old);
  disk.put('f', { type: 'file', data: bytes('user edit'), mode: 6, mtimeMs: 2 }, true);
  const next = fileVersion(disk, 'f', bytes('remote'));
  driver.execute({ op: 'writeBlock', path: p('f'), version: next, indices: [0], hash: next.blocks[0] as BlockHash, data: bytes('remote') }, 0);
  const r = driver.execute({ op: 'commitFile', path: p('f'), version: next, expect: seen }, 0);
  assert.equal(r.result.ok, false);
  assert.match(!r.result.ok ? r.result.message : '', /changed on disk/);
  assert.deepEqual(r.rescan, ['f']);
  const e = disk.get('f');
  assert.ok(e?.type === 'file' && new TextDecoder().decode(e.data) === 'user edit');
  assert.equal(driver.execute({ op: 'remove', path: p('f'), version: next, expect: seen }, 0).result.ok, false);
});

test('a crash loses temp files; directories with entries are not removed; moves refuse to overwrite', () => {
  const { disk, driver } = setup();
  const data = bytes('abc');
  const v = fileVersion(disk, 'f', data);
  driver.execute({ op: 'writeBlock', path: p('f'), version: v, indices: [0], hash: v.blocks[0] as BlockHash, data }, 0);
  driver.crash();
  assert.equal(driver.execute({ op: 'commitFile', path: p('f'), version: v, expect: null }, 0).result.ok, false);
  disk.put('d', { type: 'directory', mode: 7, mtimeMs: 0 }, true);
  disk.put('d/x', { type: 'file', data, mode: 6, mtimeMs: 0 }, true);
  const dir: FileVersion = { ...v, path: p('d'), type: 'directory', size: 0, blocks: [] };
  const r = driver.execute({ op: 'remove', path: p('d'), version: dir, expect: dir }, 0);
  assert.equal(!r.result.ok && r.result.code, 'DIR_NOT_EMPTY');
  disk.put('g', { type: 'file', data, mode: 6, mtimeMs: 0 }, true);
  const x = fileVersion(disk, 'd/x', data);
  assert.equal(driver.execute({ op: 'move', from: p('d/x'), to: p('g'), version: x, expect: x }, 0).result.ok, false);
  assert.ok(driver.execute({ op: 'move', from: p('d/x'), to: p('h/x'), version: x, expect: x }, 0).result.ok);
  assert.deepEqual(disk.paths(), ['d', 'g', 'h', 'h/x']);
});

test('readBlock serves verified bytes, and DONTHAVE when they changed', () => {
  const { disk, driver } = setup();
  const data = bytes('block');
  disk.put('f', { type: 'file', data, mode: 6, mtimeMs: 0 }, true);
  const hash = disk.blockHashes(data)[0] as BlockHash;
  const r = driver.execute({ op: 'readBlock', path: p('f'), offset: 0, length: data.byteLength, hash, forPeer: peer }, 0);
  assert.equal(r.reply?.msg.cmd, 'HEREIS');
  disk.put('f', { type: 'file', data: bytes('other'), mode: 6, mtimeMs: 0 }, true);
  const gone = driver.execute({ op: 'readBlock', path: p('f'), offset: 0, length: data.byteLength, hash, forPeer: peer }, 0);
  assert.equal(gone.reply?.msg.cmd, 'DONTHAVE');
  assert.equal(gone.result.ok, false);
});

test('the scanner reports moves, then deletions children first, then changes parents first; a full scan only differences', () => {
  const { disk, scanner } = setup();
  disk.put('a', { type: 'directory', mode: 7, mtimeMs: 0 }, true);
  disk.put('a/f', { type: 'file', data: bytes('1'), mode: 6, mtimeMs: 0 }, true);
  scanner.moved('old', 'a/f');
  scanner.touch(['gone/x', 'gone', 'a']);
  const kinds = scanner.drain().map((c) => (c.kind === 'changed' ? `changed ${c.observation.path}` : c.kind === 'deleted' ? `deleted ${c.path}` : c.kind));
  assert.deepEqual(kinds, ['moved', 'deleted old', 'deleted gone/x', 'deleted gone', 'changed a', 'changed a/f']);
  assert.equal(scanner.hasPending, false);
  const s = initialState();
  const all = scanner.fullScan(s.files);
  assert.deepEqual(all.map((c) => c.kind), ['changed', 'changed', 'scanFinished']);
});
