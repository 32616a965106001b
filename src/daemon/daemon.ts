/**
 * The daemon: one peer of one network, running the engine with the real
 * clock, sockets and disk.
 *
 * Start-up order: open the log and the persisted projections (a cold start
 * reads only the log's tail), listen (so the address is known and announced),
 * build the engine and the driver, serve the control socket, then scan the
 * folder (its changes are inputs like any other) and start watching it. File
 * operations the engine asks for before the scan finished wait for it.
 * A first start also records the command that made this host a member
 * (NetworkCreated / NetworkJoined) from config.json.
 */
import { rmSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { Server } from 'node:net';
import { blockBuffers } from '../core/buffers.js';
import { blockThreadsMax, bufferTrimIdleMs, fullRescanIntervalMs, hashOffThreadBytesMin, pendingWriteBytesMax, sendQueueBytesMax, serveReadsInFlightMax } from '../core/constants.js';
import { isPloppyError } from '../core/errors.js';
import type { PeerId } from '../core/ids.js';
import type { Hasher } from '../core/ports.js';
import { toSyncPath, type SyncPath } from '../core/path.js';
import { createEngine } from '../engine/index.js';
import type { EffectResult, Engine, FsOp, Input } from '../engine/types.js';
import type { WireMessage } from '../events/messages.js';
import { Applier, type ReadBlockResult, type WriteOp } from '../fs/applier.js';
import { isApplierTempName, stagedTempPath, tempNameFor, type CachedEntry, type DiskEntry } from '../fs/disk.js';
import { BlockPool } from '../fs/block-pool.js';
import { rememberDigest, sha256Hex } from '../fs/hash-core.js';
import { HashPool } from '../fs/hash-pool.js';
import type { IgnoreRules } from '../fs/ignore.js';
import { scan, scanCacheOf, toLocalChanges, type ScanProgress, type ScanResult } from '../fs/scanner.js';
import { Watcher } from '../fs/watcher.js';
import type { NetworkPaths } from '../cli/home.js';
import { createTransport, type Transport } from '../net/transport.js';
import { formatAddress, parseAddress } from '../net/address.js';
import { derivePskAsync } from '../net/secret.js';
import type { Session } from '../net/session.js';
import { daemonLevelWriteBufferBytes, LevelEventLog } from '../store/level-event-log.js';
import { nodeHasher, nodeIds } from '../store/node-ports.js';
import { readConfig, writeConfig, type NetworkConfig } from './config.js';
import { serveControl } from './control.js';
import { controlHandler } from './control-ops.js';
import { Driver } from './driver.js';

const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
};

export class Daemon {
  readonly config: NetworkConfig;
  private transport!: Transport;
  private driver!: Driver;
  private engine!: Engine;
  private control: Server | null = null;
  private applier: Applier | null = null;
  private watcher: Watcher | null = null;
  private readonly sessions = new Map<PeerId, Session>();
  private readonly serving = new Map<PeerId, Promise<void>>();
  /** Per peer: messages waiting for earlier ones (a block being hashed) before they reach the engine. */
  private readonly inbound = new Map<PeerId, Promise<void>>();
  private readonly blocks = new BlockPool(Math.min(blockThreadsMax, availableParallelism()));
  /** The scanner's and the applier's whole-file hashing, on the block workers (one set of threads). */
  private readonly pool = new HashPool(this.blocks);
  private readonly readSlots = new Limiter(serveReadsInFlightMax);
  /** Bytes of received blocks handed to the applier and not yet written; see writesPending. */
  private pendingWriteBytes = 0;
  /** Pooled block buffers with writes still using them, and how many. */
  private readonly bufferUsers = new Map<ArrayBufferLike, number>();
  private readingPaused = false;
  private readonly diskEntries = new Map<string, DiskEntry>();
  private fsReadyResolve!: () => void;
  private readonly fsReady = new Promise<void>((r) => (this.fsReadyResolve = r));
  /** Reads only (serving blocks), usable before the first scan is over; `applier` takes over once it exists. */
  private reader: Applier | null = null;
  private readerReadyResolve!: () => void;
  private readonly readerReady = new Promise<void>((r) => (this.readerReadyResolve = r));
  private stopping: Promise<void> | null = null;
  private readonly stoppedListeners: (() => void)[] = [];
  /** Progress of the scan running now, for `status`. */
  scanning: ScanProgress | null = null;
  /** Scans run one at a time: each waits for the one before it. */
  private scanTail: Promise<unknown> = Promise.resolve();
  private rescanTimer: NodeJS.Timeout | null = null;
  private trimTimer: NodeJS.Timeout | null = null;
  /** The `.ploppyignore` rules the watcher and the applier use (from the first scan; the watcher reloads them). */
  private ignoreRules: IgnoreRules | null = null;

  private constructor(
    readonly paths: NetworkPaths,
    readonly log: LevelEventLog,
  ) {
    this.config = readConfig(paths);
  }

  static async start(paths: NetworkPaths): Promise<Daemon> {
    const config = readConfig(paths);
    // The key derivation (scrypt) runs on the thread pool while the log opens; listen() then finds it done.
    if (config.secret !== null) derivePskAsync(config.secret, config.name).catch(() => undefined);
    const eventLog = await LevelEventLog.open(paths.db, { writeBufferBytes: daemonLevelWriteBufferBytes });
    const d = new Daemon(paths, eventLog);
    try {
      await d.boot();
    } catch (e) {
      await d.stop();
      throw e;
    }
    return d;
  }

  get address(): string {
    return this.transport.address;
  }

  get state() {
    return this.engine.state;
  }

  get connectedPeers(): ReadonlySet<string> {
    return new Set(this.sessions.keys());
  }

  onStopped(listener: () => void): void {
    this.stoppedListeners.push(listener);
  }

  private async boot(): Promise<void> {
    const state = await this.log.loadState();
    const c = this.config;
    this.transport = await this.listen(state.meta.networkId ?? (c.networkId !== '' ? c.networkId : undefined));
    this.engine = createEngine({ state, deps: { hasher: blockAwareHasher, ids: nodeIds }, selfAddress: this.transport.address });
    this.driver = new Driver(this.engine, this.log, {
      send: (to, msg) => this.send(to, msg),
      fs: (op) => this.fsEffect(op),
      connect: (address) => this.dial(address),
      disconnect: (peer, reason) => this.sessions.get(peer)?.close(reason),
      now: () => Date.now(),
      fatal: (e) => this.fatal(e),
    });
    this.control = await serveControl(this.paths.socket, controlHandler(this));
    log(`network ${c.name}: peer ${c.peer} listening on ${this.transport.address}, sharing ${c.dir}`);
    if (state.meta.self === null) this.submit({ kind: 'command', command: firstCommand(c) });
    else this.submit({ kind: 'timer', timer: 'start' });
    void this.scanAndWatch().catch((e: unknown) => this.fatal(e));
  }

  private async listen(networkId: string | undefined): Promise<Transport> {
    const c = this.config;
    const open = (listen: string | null): Promise<Transport> =>
      createTransport({
        networkName: c.name,
        ...(networkId !== undefined ? { networkId } : {}),
        peerId: c.peer,
        ...(listen !== null ? { listen } : {}),
        ...(c.secret !== null ? { secret: c.secret } : {}),
        onPeer: (s) => this.adopt(s),
        onError: (e, remote) => log(`refused ${remote}: ${e.message}`),
      });
    const wanted = parseAddress(c.listen ?? '0.0.0.0:0');
    if (wanted.port !== 0) return open(c.listen);
    const chosen = c.listenChosen ?? null;
    let transport: Transport;
    try {
      transport = await open(chosen === null ? c.listen : formatAddress({ host: wanted.host, port: parseAddress(chosen).port }));
    } catch (e) {
      if (chosen === null || !isPloppyError(e, 'LISTEN_FAILED')) throw e;
      log(`the port of ${chosen} is taken; listening on a new one`);
      transport = await open(c.listen);
    }
    if (transport.address !== chosen) writeConfig(this.paths, { ...c, listenChosen: transport.address });
    return transport;
  }

  submit(input: Input): void {
    this.driver.submit(input);
  }

  whenIdle(): Promise<void> {
    return this.driver.whenIdle();
  }

  // ------------------------------------------------------------ network

  private adopt(session: Session): void {
    const peer = session.peerId;
    const existing = this.sessions.get(peer);
    if (existing !== undefined) {
      // Both sides dialled: keep the connection dialled by the smaller peer id, on both ends.
      const dialer = (s: Session): PeerId => (s.options.direction === 'out' ? this.config.peer : peer);
      const keepNew = dialer(session) < dialer(existing);
      (keepNew ? existing : session).close('duplicate connection');
      if (!keepNew) return;
    }
    this.sessions.set(peer, session);
    if (this.readingPaused) session.pause();
    session.on('message', (msg) => this.receive(peer, msg));
    session.on('close', (reason) => {
      if (this.sessions.get(peer) !== session) return;
      this.sessions.delete(peer);
      if (reason.error !== null) log(`peer ${peer} (${session.options.remoteLabel}): ${reason.error.message}`);
      this.inOrder(peer, () => this.submit({ kind: 'disconnected', peer, reason: reason.message }));
    });
    const hello = session.hello;
    const address = session.peerListenAddress ?? session.options.remoteLabel;
    this.submit({ kind: 'connected', peer, address, direction: session.options.direction });
    if (hello !== null) this.submit({ kind: 'received', from: peer, msg: hello });
  }

  /**
   * A message from a peer. A large block is hashed on a block worker first
   * (the engine's and the applier's checks then find the digest); messages
   * from one peer still reach the engine in the order they arrived.
   */
  private receive(peer: PeerId, msg: WireMessage): void {
    if (msg.cmd !== 'HEREIS' || msg.data.byteLength < hashOffThreadBytesMin) {
      this.inOrder(peer, () => this.submit({ kind: 'received', from: peer, msg }));
      return;
    }
    const hashed = this.blocks.hash(msg.data).then(
      ({ data, digest }) => {
        rememberDigest(data, digest);
        return { ...msg, data };
      },
      () => null, // the worker died holding the bytes: the request times out and is asked again
    );
    this.inOrder(peer, async () => {
      const m = await hashed;
      if (m !== null) this.submit({ kind: 'received', from: peer, msg: m });
    });
  }

  /** Run `step` after everything still queued for `peer` (at once when nothing is). */
  private inOrder(peer: PeerId, step: () => void | Promise<void>): void {
    const queued = this.inbound.get(peer);
    if (queued === undefined) {
      const r = step();
      if (r === undefined) return;
      this.trackInbound(peer, r);
      return;
    }
    this.trackInbound(peer, queued.then(step));
  }

  private trackInbound(peer: PeerId, p: Promise<void>): void {
    const tail = p.catch((e: unknown) => this.fatal(e));
    this.inbound.set(peer, tail);
    void tail.then(() => {
      if (this.inbound.get(peer) === tail) this.inbound.delete(peer);
    });
  }

  private send(to: PeerId, msg: WireMessage): void {
    this.sessions.get(to)?.send(msg);
  }

  private dial(address: string): void {
    this.transport.dial(address).catch((e: unknown) => {
      const text = e instanceof Error ? e.message : String(e);
      log(`cannot connect to ${address}: ${text}`);
      if (isPloppyError(e, 'SECRET_REJECTED') || isPloppyError(e, 'PEER_WRONG_NETWORK')) {
        process.stderr.write(`ploppy: ${text}\n`);
      }
    });
  }

  // ------------------------------------------------------------ files

  /**
   * What the engine knows is on disk (at or under `under`, when given): each
   * version with the mtime last seen for its content and the inode last seen.
   */
  private cache(under?: SyncPath): Map<string, CachedEntry> {
    return scanCacheOf(this.engine.state.files, this.diskEntries, under);
  }

  /**
   * Scan, handing each change to the engine as soon as it is known (peers can
   * start fetching the first files while the rest are still being hashed);
   * deletions and scanFinished follow at the end.
   */
  private runScan(under?: SyncPath): Promise<ScanResult> {
    const next = this.scanTail.then(() => this.scanNow(under));
    this.scanTail = next.catch(() => undefined);
    return next;
  }

  private async scanNow(under?: SyncPath): Promise<ScanResult> {
    // A rescan of one path (the engine asks for one when a commit found the disk changed) uses the rules
    // the watcher keeps current; loading them afresh would read every directory of the folder.
    const rules = under !== undefined ? this.ignoreRules : null;
    const result = await scan(this.config.dir, {
      cache: this.cache(under),
      ...(rules !== null ? { ignore: rules } : {}),
      pool: this.pool,
      ...(under !== undefined ? { under } : {}),
      onProgress: (p) => {
        this.scanning = p;
      },
      onChanged: (observation) => this.submit({ kind: 'local', change: { kind: 'changed', observation } }),
    });
    this.scanning = null;
    for (const [p, e] of result.entries) this.diskEntries.set(p, e);
    for (const p of result.deleted) this.diskEntries.delete(p);
    this.watcher?.learn(result.entries, result.deleted);
    for (const change of toLocalChanges(result, true)) this.submit({ kind: 'local', change });
    return result;
  }

  /**
   * The temp files of the transfers the log says are under way: an earlier
   * run was stopped or killed in the middle of them, and the engine looks for
   * their blocks there before fetching any (FsOp keepBlock). Each may be in
   * the staging directory or, for a target on another file system, beside it.
   */
  private resumableTemps(): Set<string> {
    const out = new Set<string>();
    const root = this.reader?.root ?? this.config.dir; // the scan lists temp files under the real path
    for (const t of this.engine.state.transfers.values()) {
      if (t.version.type !== 'file' || t.version.deleted) continue;
      const parts = t.path.split('/');
      const name = parts.pop() as string;
      out.add(stagedTempPath(root, t.path, t.version));
      out.add(join(root, ...parts, tempNameFor(name, t.version)));
    }
    return out;
  }

  private async scanAndWatch(): Promise<void> {
    // Peers may ask for blocks of the first files while the scan goes on: a reader serves them meanwhile.
    this.reader = await Applier.open(this.config.dir, { blocks: this.blocks });
    this.readerReadyResolve();
    const first = await this.runScan();
    this.ignoreRules = first.ignore;
    await removeStaleTempFiles(first.tempFiles, this.resumableTemps());
    this.watcher = await Watcher.start(this.config.dir, {
      ignore: first.ignore,
      known: this.diskEntries,
      pool: this.pool,
      onChanges: (changes, entries) => {
        for (const [p, e] of entries) {
          if (e === null) this.diskEntries.delete(p);
          else this.diskEntries.set(p, e);
        }
        for (const change of changes) this.submit({ kind: 'local', change });
      },
      onEvent: (native) => this.applier?.entryChanged(native),
      onRescanNeeded: (reason) => {
        this.applier?.forgetDirectories();
        log(`rescanning: ${reason}`);
        void this.runScan().catch((e: unknown) => log(`rescan failed: ${String(e)}`));
      },
    });
    this.applier = await Applier.open(this.config.dir, { listener: this.watcher, pool: this.pool, blocks: this.blocks, ignore: first.ignore, watched: true });
    this.fsReadyResolve();
    // What changed between the first scan's walk and the watcher being ready was seen by neither:
    // a second scan (unchanged files cost one lstat each) catches it.
    await this.runScan();
    // A backstop, as Syncthing has: a full rescan now and then finds what a lost inotify event hid.
    this.rescanTimer = setInterval(() => {
      void this.runScan().catch((e: unknown) => log(`periodic rescan failed: ${String(e)}`));
    }, fullRescanIntervalMs);
    this.rescanTimer.unref();
    // Block buffers kept for reuse are let go once no block has moved for a while: up to
    // 16 MiB that a daemon at rest would otherwise hold until its next transfer.
    let takes = blockBuffers.takes;
    this.trimTimer = setInterval(() => {
      if (blockBuffers.takes === takes) blockBuffers.trim();
      takes = blockBuffers.takes;
    }, bufferTrimIdleMs);
    this.trimTimer.unref();
  }

  private async fsEffect(op: FsOp): Promise<EffectResult> {
    if (op.op === 'readBlock') {
      await this.readerReady;
      const reader = this.applier ?? this.reader;
      if (reader === null) return { ok: false, code: 'FS_ERROR', message: 'the daemon is stopping' };
      return this.serveBlock(reader, op);
    }
    await this.fsReady;
    const applier = this.applier;
    if (applier === null) return { ok: false, code: 'FS_ERROR', message: 'the daemon is stopping' };
    if (op.op === 'rescan') {
      await this.runScan(op.path === '' ? undefined : toSyncPath(op.path));
      return { ok: true };
    }
    if (op.op !== 'writeBlock') return applier.apply(op as WriteOp);
    this.writesPending(op.data.byteLength);
    const pooled = op.data.byteLength >= hashOffThreadBytesMin ? op.data.buffer : null;
    if (pooled !== null) this.bufferUsers.set(pooled, (this.bufferUsers.get(pooled) ?? 0) + 1);
    try {
      return await applier.apply(op);
    } finally {
      this.writesPending(-op.data.byteLength);
      if (pooled !== null) this.releaseBuffer(pooled);
    }
  }

  /**
   * A received block's buffer goes back to the pool once every write of it is
   * done (the engine writes one block into each file that wants it; those
   * writes are issued together, before any of them completes).
   */
  private releaseBuffer(buffer: ArrayBufferLike): void {
    const users = (this.bufferUsers.get(buffer) ?? 1) - 1;
    if (users > 0) {
      this.bufferUsers.set(buffer, users);
      return;
    }
    this.bufferUsers.delete(buffer);
    blockBuffers.give(buffer);
  }

  /**
   * Received blocks wait in memory until the applier has written them. The
   * engine asks for more as soon as a block arrives, so when the disk falls
   * behind, reading from peers pauses (TCP then slows the senders) until the
   * backlog is down to half.
   */
  private writesPending(deltaBytes: number): void {
    this.pendingWriteBytes += deltaBytes;
    if (!this.readingPaused && this.pendingWriteBytes > pendingWriteBytesMax) {
      this.readingPaused = true;
      for (const s of this.sessions.values()) s.pause();
    } else if (this.readingPaused && this.pendingWriteBytes <= pendingWriteBytesMax / 2) {
      this.readingPaused = false;
      for (const s of this.sessions.values()) s.resume();
    }
  }

  /**
   * Serving a peer is a pipeline: up to serveReadsInFlightMax block reads run
   * at once (read and hashed on the block workers), and the answers go out in
   * the order they were asked for; sending waits only while more than
   * sendQueueBytesMax sit unsent on the peer's socket.
   */
  private serveBlock(applier: Applier, op: Extract<FsOp, { op: 'readBlock' }>): Promise<EffectResult> {
    const read = this.readSlots.run(() => applier.readBlock(op.path, op.offset, op.length, op.hash, hereisHeadroomBytes));
    const previous = this.serving.get(op.forPeer) ?? Promise.resolve();
    const next = previous.then(async () => this.sendServed(op, await read));
    const tail = next.then(() => undefined, () => undefined);
    this.serving.set(op.forPeer, tail);
    void tail.then(() => {
      if (this.serving.get(op.forPeer) === tail) this.serving.delete(op.forPeer);
    });
    return next;
  }

  private async sendServed(op: Extract<FsOp, { op: 'readBlock' }>, result: ReadBlockResult): Promise<EffectResult> {
    const session = this.sessions.get(op.forPeer);
    if (session === undefined) return { ok: true };
    if (result.ok) {
      if (session.queuedBytes > sendQueueBytesMax) await session.drained();
      const pooled = result.data.byteLength >= hashOffThreadBytesMin ? result.data.buffer : null;
      const giveBack = (): void => {
        if (pooled !== null) blockBuffers.give(pooled);
      };
      if (!session.send({ cmd: 'HEREIS', id: nodeIds.messageId(), hash: op.hash, data: result.data }, giveBack)) giveBack();
      return { ok: true };
    }
    session.send({ cmd: 'DONTHAVE', id: nodeIds.messageId(), hashes: [op.hash] });
    return result;
  }

  // ------------------------------------------------------------ lifecycle

  private fatal(e: unknown): void {
    log(`fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
    void this.stop();
  }

  /** Record that this host leaves, then stop. */
  async leave(deleteDir: boolean): Promise<void> {
    this.submit({ kind: 'command', command: { kind: 'leave', deleteDir } });
    await this.driver.whenIdle();
    await this.stop();
    if (deleteDir) rmSync(this.config.dir, { recursive: true, force: true });
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    if (this.rescanTimer !== null) clearInterval(this.rescanTimer);
    this.rescanTimer = null;
    if (this.trimTimer !== null) clearInterval(this.trimTimer);
    this.trimTimer = null;
    await this.watcher?.close();
    if (this.driver !== undefined) await this.driver.stop();
    await this.transport?.close();
    await this.applier?.close();
    this.applier = null;
    await this.reader?.close();
    this.reader = null;
    this.readerReadyResolve();
    await new Promise<void>((r) => (this.control === null ? r() : this.control.close(() => r())));
    rmSync(this.paths.socket, { force: true });
    await this.pool.close();
    await this.blocks.close();
    await this.log.close();
    log(`network ${this.config.name}: stopped`);
    for (const l of this.stoppedListeners) l();
  }
}

/**
 * Remove the applier's temp files an earlier run left (the first scan lists
 * them), except those of transfers still under way: their blocks are kept.
 */
async function removeStaleTempFiles(found: readonly string[], keep: ReadonlySet<string>): Promise<void> {
  for (const native of found) {
    if (!isApplierTempName(basename(native)) || keep.has(native)) continue;
    await unlink(native).catch(() => undefined); // gone already, or a directory that only looks like one
  }
}

/** Scratch bytes read in front of a served block: its HEREIS frame header is written there (one buffer per frame). */
const hereisHeadroomBytes = 256;

/** At most `max` tasks at once; the rest wait their turn in order. */
class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * The engine checks every received block's hash; the applier checks it again
 * just before writing. Hashing buffers through the applier's sha256Hex lets the
 * second check find the first one's digest (strings, the log's event bodies,
 * go to the plain hasher).
 */
const blockAwareHasher: Hasher = {
  sha256: (data) => (typeof data === 'string' ? nodeHasher.sha256(data) : sha256Hex(data)),
};

function firstCommand(c: NetworkConfig): Extract<Input, { kind: 'command' }>['command'] {
  if (c.origin.kind === 'create') {
    return { kind: 'create', networkId: c.networkId, name: c.name, peer: c.peer, dir: c.dir, ...(c.admin !== null ? { admin: c.admin } : {}) };
  }
  return { kind: 'join', name: c.name, peer: c.peer, dir: c.dir, via: c.origin.via };
}

