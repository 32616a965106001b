/**
 * A tiny in-memory world for engine tests: engines joined by message queues,
 * each with a map path -> bytes as its disk, no sockets, no simulator.
 *
 * - Sends are queued per connection and delivered by `run()`; tests can pick
 *   the delivery order (fifo, reversed, shuffled with a seed) and duplicate
 *   messages.
 * - fs ops run against the node's disk when the queue reaches them, and their
 *   outcome comes back as `effectDone`. Blocks are hashed with the real hasher.
 *   A readBlock answers the asking peer with HEREIS/DONTHAVE, as a driver does.
 * - Timers are kept per node and fire when the test advances the clock.
 */
import { blockCount, blockLength } from '../../../src/core/blocks.js';
import type { BlockHash, EventId, MessageId, PeerId } from '../../../src/core/ids.js';
import type { SyncPath } from '../../../src/core/path.js';
import type { IdSource } from '../../../src/core/ports.js';
import { seededRng, type Rng } from '../../../src/core/rng.js';
import { createEngine } from '../../../src/engine/index.js';
import type { EffectResult, Engine, FsOp, Input, LocalChange, Output, StampedEvent } from '../../../src/engine/types.js';
import type { WireMessage } from '../../../src/events/messages.js';
import type { FileVersion } from '../../../src/events/version.js';
import { initialState } from '../../../src/projections/state.js';
import { stateFromEntries, valueForKey } from '../../../src/projections/snapshot.js';
import { nodeHasher } from '../../../src/store/node-ports.js';

/** Small blocks so a few bytes make several blocks. */
export const testBlockBytes = 4;

export type DiskEntry = { type: 'file'; data: Uint8Array; mode: number } | { type: 'directory'; mode: number } | { type: 'symlink'; target: string; mode: number };

const enc = new TextEncoder();
const dec = new TextDecoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array): string => dec.decode(b);
export const p = (s: string): SyncPath => s as SyncPath;

export function blocksOf(data: Uint8Array, blockSize = testBlockBytes): BlockHash[] {
  const out: BlockHash[] = [];
  for (let i = 0; i < blockCount(data.byteLength, blockSize); i++) out.push(nodeHasher.sha256(data.subarray(i * blockSize, (i + 1) * blockSize)));
  return out;
}

let uuidCounter = 0;
const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0').slice(-width);
/** Deterministic UUID-shaped ids (v7 with the time for events, v4 for messages). */
export function testIds(prefix: number): IdSource {
  return {
    eventId: (nowMs) => `${hex(Math.floor(nowMs / 65536), 8)}-${hex(nowMs % 65536, 4)}-7${hex(prefix, 3)}-8${hex(++uuidCounter, 3)}-${hex(uuidCounter, 12)}` as EventId,
    messageId: () => `${hex(prefix, 8)}-0000-4000-8000-${hex(++uuidCounter, 12)}` as MessageId,
  };
}

interface Pending {
  readonly to: PeerId;
  readonly input: Input;
}

const tempKey = (path: string, v: FileVersion): string => `${path}|${JSON.stringify(v.vv)}|${v.hlc.wallMs}.${v.hlc.counter}`;

export class TestNode {
  readonly disk = new Map<string, DiskEntry>();
  readonly temps = new Map<string, Uint8Array>();
  readonly log: StampedEvent[] = [];
  readonly sent: { to: PeerId; msg: WireMessage }[] = [];
  readonly timers = new Map<string, number>();
  readonly connects: string[] = [];
  /** Every fs op this node's engine asked for, in order. */
  readonly ops: FsOp[] = [];
  /** Corrupt every HEREIS this node serves (a bad peer). */
  corruptBlocks = false;
  /** Fail this many of the next local block copies with DISK_FULL (a disk that fills up, then frees). */
  failCopies = 0;
  /**
   * Keep the disk a tree, as real drivers do: refuse to replace or remove a
   * directory that holds entries (DIR_NOT_EMPTY), and to write below a file
   * (FS_ERROR). Off by default: the older tests remove a parent before its
   * entries and expect no failed op.
   */
  strictTree = false;

  engine: Engine;

  constructor(
    readonly net: TestNet,
    readonly id: PeerId,
    readonly address: string,
  ) {
    this.engine = createEngine({ state: initialState(), deps: { hasher: nodeHasher, ids: testIds(parseInt(id.slice(0, 3), 16)) }, selfAddress: address });
  }

  /**
   * Crash and restart: links drop, temporary files and timers are lost, and a
   * new engine starts from the projections as the store would persist them.
   * `keepTemps`: the process was killed, not the machine, so what it wrote
   * to its temp files is still there.
   */
  restart(options: { keepTemps?: boolean } = {}): void {
    for (const other of this.net.nodes.values()) if (other !== this) this.net.cut(this.id, other.id, 'crash');
    const s = this.engine.state;
    const keys = ['m', ...[...s.files.keys()].map((k) => `f/${k}`), ...[...s.peers.keys()].map((k) => `p/${k}`),
      ...[...s.conflicts.keys()].map((k) => `c/${k}`), ...[...s.transfers.keys()].map((k) => `t/${k}`)];
    const state = stateFromEntries(keys.map((k) => [k, valueForKey(s, k) as string]));
    if (options.keepTemps !== true) this.temps.clear();
    this.timers.clear();
    // The dead process hears no more outcomes of its effects (a new one numbers its effects afresh).
    this.net.dropInFlight((q) => q.to === this.id && q.input.kind === 'effectDone');
    this.engine = createEngine({ state, deps: { hasher: nodeHasher, ids: testIds(parseInt(this.id.slice(0, 3), 16)) }, selfAddress: this.address });
  }

  get state() {
    return this.engine.state;
  }

  handle(input: Input): void {
    const outputs = this.engine.handle(input, this.net.nowMs);
    for (const o of outputs) this.perform(o);
  }

  private perform(o: Output): void {
    switch (o.kind) {
      case 'append':
        this.log.push(...o.events);
        return;
      case 'send':
        this.sent.push({ to: o.to, msg: o.msg });
        this.net.transmit(this.id, o.to, o.msg);
        return;
      case 'fs':
        this.ops.push(o.op);
        this.net.enqueue({ to: this.id, input: { kind: 'effectDone', effect: o.effect, result: this.execute(o.op) } });
        return;
      case 'setTimer':
        this.timers.set(o.timer, o.atMs);
        return;
      case 'connect':
        this.connects.push(o.address);
        return;
      case 'disconnect':
        this.net.cut(this.id, o.peer, o.reason);
        return;
    }
  }

  /** Write a file and tell the engine, as the watcher would. */
  write(path: string, content: string, mode = 6): void {
    const data = bytes(content);
    this.disk.set(path, { type: 'file', data, mode });
    this.handle({
      kind: 'local',
      change: { kind: 'changed', observation: { path: p(path), type: 'file', mode, size: data.byteLength, mtimeMs: this.net.nowMs, blockSizeBytes: testBlockBytes, blocks: blocksOf(data) } },
    });
  }

  remove(path: string): void {
    this.disk.delete(path);
    this.handle({ kind: 'local', change: { kind: 'deleted', path: p(path) } });
  }

  rename(from: string, to: string): void {
    const e = this.disk.get(from);
    if (e === undefined) throw new Error(`nothing at ${from}`);
    this.disk.delete(from);
    this.disk.set(to, e);
    this.handle({ kind: 'local', change: { kind: 'moved', from: p(from), to: p(to) } });
  }

  /** What a scanner would report for `path` now. */
  observe(path: string): LocalChange {
    const e = this.disk.get(path);
    if (e === undefined) return { kind: 'deleted', path: p(path) };
    const data = e.type === 'file' ? e.data : new Uint8Array(0);
    const observation = {
      path: p(path), type: e.type, mode: e.mode, size: data.byteLength, mtimeMs: this.net.nowMs, blockSizeBytes: testBlockBytes,
      blocks: e.type === 'file' ? blocksOf(data) : [], ...(e.type === 'symlink' ? { target: e.target } : {}),
    };
    return { kind: 'changed', observation };
  }

  read(path: string): string | undefined {
    const e = this.disk.get(path);
    return e?.type === 'file' ? text(e.data) : undefined;
  }

  /** The tree as path -> content, for comparing peers. */
  tree(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [path, e] of [...this.disk].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out[path] = e.type === 'file' ? `${e.mode}:${text(e.data)}` : e.type === 'symlink' ? `-> ${e.target}` : 'dir';
    }
    return out;
  }

  private matches(path: string, expect: FileVersion | null): boolean {
    const e = this.disk.get(path);
    if (expect === null || expect.deleted) return e === undefined;
    if (e === undefined || e.type !== expect.type) return false;
    if (e.type !== 'file') return true;
    const hashes = blocksOf(e.data, expect.blockSizeBytes);
    return hashes.length === expect.blocks.length && hashes.every((h, i) => h === expect.blocks[i]);
  }

  /** A directory with entries below it at `path`: the driver refuses to replace or remove it (DIR_NOT_EMPTY). */
  private shelters(path: string): boolean {
    if (!this.strictTree || this.disk.get(path)?.type !== 'directory') return false;
    for (const k of this.disk.keys()) if (k.startsWith(`${path}/`)) return true;
    return false;
  }

  /** A file or symlink above `path` (strictTree): nothing can be written there. */
  private underFile(path: string): boolean {
    if (!this.strictTree) return false;
    for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
      const above = this.disk.get(path.slice(0, i));
      if (above !== undefined && above.type !== 'directory') return true;
    }
    return false;
  }

  private writeTemp(path: string, v: FileVersion, indices: readonly number[], data: Uint8Array): void {
    const key = tempKey(path, v);
    const t = this.temps.get(key) ?? new Uint8Array(v.size);
    for (const i of indices) t.set(data, i * v.blockSizeBytes);
    this.temps.set(key, t);
  }

  execute(op: FsOp): EffectResult {
    const ok: EffectResult = { ok: true };
    const changed: EffectResult = { ok: false, code: 'FS_ERROR', message: 'changed on disk' };
    const noParent: EffectResult = { ok: false, code: 'FS_ERROR', message: `${op.op === 'move' ? op.to : op.path}: a parent is not a directory` };
    const notEmpty: EffectResult = { ok: false, code: 'DIR_NOT_EMPTY', message: `${op.op === 'move' ? op.from : op.path} is a directory that still holds entries` };
    switch (op.op) {
      case 'writeBlock':
        if (nodeHasher.sha256(op.data) !== op.hash) throw new Error(`integrity: unverified block reached ${this.id}'s disk`);
        if (this.underFile(op.path)) return noParent;
        this.writeTemp(op.path, op.version, op.indices, op.data);
        return ok;
      case 'keepBlock': {
        const t = this.temps.get(tempKey(op.path, op.version));
        if (t === undefined) return { ok: false, code: 'FS_ERROR', message: `${op.path}: no temporary file from an earlier run` };
        for (const i of op.indices) {
          const at = i * op.version.blockSizeBytes;
          if (nodeHasher.sha256(t.subarray(at, at + blockLength(op.version.size, op.version.blockSizeBytes, i))) !== op.hash) {
            return { ok: false, code: 'FS_ERROR', message: `${op.path}: block ${i} is not in the temporary file` };
          }
        }
        return ok;
      }
      case 'copyBlock': {
        if (this.failCopies > 0 && this.failCopies-- > 0) return { ok: false, code: 'DISK_FULL', message: `disk full writing ${op.path}` };
        if (this.underFile(op.path)) return noParent;
        const src = this.disk.get(op.fromPath);
        if (src?.type !== 'file') return { ok: false, code: 'FS_ERROR', message: `copy source ${op.fromPath} changed on disk` };
        const b = src.data.slice(op.fromOffset, op.fromOffset + op.length);
        if (nodeHasher.sha256(b) !== op.hash) return { ok: false, code: 'BLOCK_HASH_MISMATCH', message: 'copy source changed on disk' };
        this.writeTemp(op.path, op.version, op.indices, b);
        return ok;
      }
      case 'commitFile': {
        if (!this.matches(op.path, op.expect)) return changed;
        if (this.shelters(op.path)) return notEmpty;
        if (this.underFile(op.path)) return noParent;
        const data = op.version.size === 0 ? new Uint8Array(0) : this.temps.get(tempKey(op.path, op.version));
        if (data === undefined) return { ok: false, code: 'BLOCK_HASH_MISMATCH', message: 'no temporary file' };
        const hashes = blocksOf(data, op.version.blockSizeBytes);
        if (hashes.join() !== op.version.blocks.join()) return { ok: false, code: 'BLOCK_HASH_MISMATCH', message: 'temporary file does not match' };
        this.disk.set(op.path, { type: 'file', data, mode: op.version.mode });
        this.temps.delete(tempKey(op.path, op.version));
        return ok;
      }
      case 'makeDirectory':
        if (!this.matches(op.path, op.expect)) return changed;
        if (this.underFile(op.path)) return noParent;
        this.disk.set(op.path, { type: 'directory', mode: op.version.mode });
        return ok;
      case 'makeSymlink':
        if (!this.matches(op.path, op.expect)) return changed;
        if (this.shelters(op.path)) return notEmpty;
        if (this.underFile(op.path)) return noParent;
        this.disk.set(op.path, { type: 'symlink', target: op.version.target ?? '', mode: op.version.mode });
        return ok;
      case 'remove':
        if (!this.matches(op.path, op.expect)) return changed;
        if (this.shelters(op.path)) return notEmpty;
        this.disk.delete(op.path);
        return ok;
      case 'move': {
        if (!this.matches(op.from, op.expect)) return changed;
        if (this.disk.has(op.to)) return { ok: false, code: 'FS_ERROR', message: `${op.to} exists` };
        const e = this.disk.get(op.from);
        if (e === undefined) return changed;
        // As a file system does: a directory takes everything below it along.
        const below = [...this.disk.keys()].filter((k) => k.startsWith(`${op.from}/`));
        for (const k of [op.from, ...below]) {
          const entry = this.disk.get(k) as DiskEntry;
          this.disk.delete(k);
          this.disk.set(op.to + k.slice(op.from.length), entry);
        }
        return ok;
      }
      case 'readBlock': {
        const e = this.disk.get(op.path);
        const b = e?.type === 'file' ? e.data.slice(op.offset, op.offset + op.length) : null;
        if (b === null || nodeHasher.sha256(b) !== op.hash) {
          this.net.transmit(this.id, op.forPeer, { cmd: 'DONTHAVE', id: testIds(9).messageId(), hashes: [op.hash] });
          return { ok: false, code: 'FS_ERROR', message: 'block no longer there' };
        }
        const data = this.corruptBlocks ? b.map((x) => x ^ 0xff) : b;
        this.net.transmit(this.id, op.forPeer, { cmd: 'HEREIS', id: testIds(9).messageId(), hash: op.hash, data });
        return ok;
      }
      case 'rescan':
        for (const path of op.path === '' ? [...this.disk.keys()] : [op.path]) this.net.enqueue({ to: this.id, input: { kind: 'local', change: this.observe(path) } });
        return ok;
    }
  }
}

export type Order = 'fifo' | 'lifo' | 'shuffle';

export class TestNet {
  nowMs = 1_700_000_000_000;
  readonly nodes = new Map<PeerId, TestNode>();
  private readonly links = new Set<string>();
  private queue: Pending[] = [];
  delivered = 0;
  order: Order = 'fifo';
  duplicateEvery = 0;
  private readonly rng: Rng;

  constructor(seed = 1) {
    this.rng = seededRng(seed);
  }

  /** A node that created (first) or joined the network. */
  add(id: string, options: { create?: boolean; via?: string } = {}): TestNode {
    const node = new TestNode(this, id as PeerId, `10.0.0.${this.nodes.size + 1}:7000`);
    this.nodes.set(node.id, node);
    const command = options.create === true
      ? ({ kind: 'create', networkId: 'net-1', name: 'test', peer: node.id, dir: `/tmp/${id}` } as const)
      : ({ kind: 'join', name: 'test', peer: node.id, dir: `/tmp/${id}`, via: options.via ?? '' } as const);
    node.handle({ kind: 'command', command });
    return node;
  }

  private key = (a: PeerId, b: PeerId): string => (a < b ? `${a}|${b}` : `${b}|${a}`);

  linked(a: PeerId, b: PeerId): boolean {
    return this.links.has(this.key(a, b));
  }

  /** Open a connection, as the transport does after the HELLO exchange. */
  connect(a: TestNode, b: TestNode): void {
    this.links.add(this.key(a.id, b.id));
    for (const [x, y, dir] of [[a, b, 'out'], [b, a, 'in']] as const) {
      x.handle({ kind: 'connected', peer: y.id, address: y.address, direction: dir });
      x.handle({ kind: 'received', from: y.id, msg: { cmd: 'HELLO', id: testIds(7).messageId(), name: 'test', uuid: y.id, address: y.address, network: 'test' } });
    }
  }

  /** Close a connection; both ends hear of it (messages in flight on it are lost). */
  cut(a: PeerId, b: PeerId, reason = 'cut'): void {
    if (!this.links.delete(this.key(a, b))) return;
    this.queue = this.queue.filter((q) => !(q.input.kind === 'received' && ((q.to === a && q.input.from === b) || (q.to === b && q.input.from === a))));
    this.nodes.get(a)?.handle({ kind: 'disconnected', peer: b, reason });
    this.nodes.get(b)?.handle({ kind: 'disconnected', peer: a, reason });
  }

  transmit(from: PeerId, to: PeerId, msg: WireMessage): void {
    if (!this.linked(from, to)) return;
    this.enqueue({ to, input: { kind: 'received', from, msg } });
    if (this.duplicateEvery > 0 && this.rng.int(this.duplicateEvery) === 0) this.enqueue({ to, input: { kind: 'received', from, msg } });
  }

  enqueue(p: Pending): void {
    this.queue.push(p);
  }

  /** Lose everything in flight (messages and effect outcomes), as a test's blunt instrument. */
  dropInFlight(filter: (p: Pending) => boolean = () => true): void {
    this.queue = this.queue.filter((q) => !filter(q));
  }

  private next(): Pending | undefined {
    if (this.queue.length === 0) return undefined;
    const i = this.order === 'fifo' ? 0 : this.order === 'lifo' ? this.queue.length - 1 : this.rng.int(this.queue.length);
    return this.queue.splice(i, 1)[0];
  }

  /** Deliver one queued input; false when nothing was queued. */
  step(): boolean {
    const q = this.next();
    if (q === undefined) return false;
    const node = this.nodes.get(q.to);
    if (node !== undefined && !(q.input.kind === 'received' && !this.linked(q.to, q.input.from))) {
      this.delivered++;
      node.handle(q.input);
    }
    return true;
  }

  /** Deliver until nothing is queued; returns how many inputs were handled. */
  run(limit = 100_000): number {
    let n = 0;
    for (let q = this.next(); q !== undefined; q = this.next()) {
      if (++n > limit) throw new Error('the network did not go quiet');
      const node = this.nodes.get(q.to);
      if (node === undefined) continue;
      if (q.input.kind === 'received' && !this.linked(q.to, q.input.from)) continue;
      this.delivered++;
      node.handle(q.input);
    }
    return n;
  }

  /** Move the clock forward, firing due timers (and running after each). */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      let due: { node: TestNode; timer: string; atMs: number } | null = null;
      for (const node of this.nodes.values()) {
        for (const [timer, atMs] of node.timers) if (atMs <= end && (due === null || atMs < due.atMs)) due = { node, timer, atMs };
      }
      if (due === null) break;
      this.nowMs = Math.max(this.nowMs, due.atMs);
      due.node.timers.delete(due.timer);
      due.node.handle({ kind: 'timer', timer: due.timer });
      this.run();
    }
    this.nowMs = end;
  }
}

/** Peer ids the engine tests use: A creates the network, the others join. */
export const A = 'aaaaaaaaaaaaaaaa';
export const B = 'bbbbbbbbbbbbbbbb';
export const C = 'cccccccccccccccc';

/** A and B connected, A having created the network. */
export function pair(seed = 1): { net: TestNet; a: TestNode; b: TestNode } {
  const net = new TestNet(seed);
  const a = net.add(A, { create: true });
  const b = net.add(B);
  net.connect(a, b);
  return { net, a, b };
}

/** A and B share `path` (written by A as `content`), then the link between them is cut. */
export function pairApart(seed = 1, path = 'f.txt', content = 'base'): { net: TestNet; a: TestNode; b: TestNode } {
  const { net, a, b } = pair(seed);
  a.write(path, content);
  net.run();
  net.cut(a.id, b.id);
  return { net, a, b };
}

/** A - B - C in a line (A and C see each other only through B), A having created the network. */
export function line(seed = 1): { net: TestNet; a: TestNode; b: TestNode; c: TestNode } {
  const net = new TestNet(seed);
  const a = net.add(A, { create: true });
  const b = net.add(B);
  const c = net.add(C);
  net.connect(a, b);
  net.connect(b, c);
  return { net, a, b, c };
}
