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
import type { Server } from 'node:net';
import { isPloppyError } from '../core/errors.js';
import type { PeerId } from '../core/ids.js';
import { toSyncPath, type SyncPath } from '../core/path.js';
import { createEngine } from '../engine/index.js';
import type { EffectResult, Engine, FsOp, Input } from '../engine/types.js';
import type { WireMessage } from '../events/messages.js';
import { Applier, type WriteOp } from '../fs/applier.js';
import type { CachedEntry, DiskEntry } from '../fs/disk.js';
import { HashPool } from '../fs/hash-pool.js';
import { scan, toLocalChanges, type ScanProgress, type ScanResult } from '../fs/scanner.js';
import { Watcher } from '../fs/watcher.js';
import type { NetworkPaths } from '../cli/home.js';
import { createTransport, type Transport } from '../net/transport.js';
import { formatAddress, parseAddress } from '../net/address.js';
import type { Session } from '../net/session.js';
import { LevelEventLog } from '../store/level-event-log.js';
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
  private readonly pool = new HashPool();
  private readonly sessions = new Map<PeerId, Session>();
  private readonly serving = new Map<PeerId, Promise<void>>();
  private readonly diskEntries = new Map<string, DiskEntry>();
  private fsReadyResolve!: () => void;
  private readonly fsReady = new Promise<void>((r) => (this.fsReadyResolve = r));
  private stopping: Promise<void> | null = null;
  private readonly stoppedListeners: (() => void)[] = [];
  /** Progress of the scan running now, for `status`. */
  scanning: ScanProgress | null = null;

  private constructor(
    readonly paths: NetworkPaths,
    readonly log: LevelEventLog,
  ) {
    this.config = readConfig(paths);
  }

  static async start(paths: NetworkPaths): Promise<Daemon> {
    const eventLog = await LevelEventLog.open(paths.db);
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
    this.engine = createEngine({ state, deps: { hasher: nodeHasher, ids: nodeIds }, selfAddress: this.transport.address });
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
    session.on('message', (msg) => this.submit({ kind: 'received', from: peer, msg }));
    session.on('close', (reason) => {
      if (this.sessions.get(peer) !== session) return;
      this.sessions.delete(peer);
      if (reason.error !== null) log(`peer ${peer} (${session.options.remoteLabel}): ${reason.error.message}`);
      this.submit({ kind: 'disconnected', peer, reason: reason.message });
    });
    const hello = session.hello;
    const address = session.peerListenAddress ?? session.options.remoteLabel;
    this.submit({ kind: 'connected', peer, address, direction: session.options.direction });
    if (hello !== null) this.submit({ kind: 'received', from: peer, msg: hello });
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

  private cache(): Map<string, CachedEntry> {
    const out = new Map<string, CachedEntry>();
    for (const [p, f] of this.engine.state.files) {
      if (f.version.deleted) continue;
      const ino = this.diskEntries.get(p)?.ino;
      out.set(p, ino === undefined ? f.version : { ...f.version, ino });
    }
    return out;
  }

  private async runScan(under?: SyncPath): Promise<ScanResult> {
    const result = await scan(this.config.dir, {
      cache: this.cache(),
      pool: this.pool,
      ...(under !== undefined ? { under } : {}),
      onProgress: (p) => {
        this.scanning = p;
      },
    });
    this.scanning = null;
    for (const [p, e] of result.entries) this.diskEntries.set(p, e);
    for (const p of result.deleted) this.diskEntries.delete(p);
    for (const change of toLocalChanges(result)) this.submit({ kind: 'local', change });
    return result;
  }

  private async scanAndWatch(): Promise<void> {
    const applierTemp = await Applier.open(this.config.dir);
    await applierTemp.removeStaleTempFiles();
    await applierTemp.close();
    const first = await this.runScan();
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
      onRescanNeeded: (reason) => {
        log(`rescanning: ${reason}`);
        void this.runScan().catch((e: unknown) => log(`rescan failed: ${String(e)}`));
      },
    });
    this.applier = await Applier.open(this.config.dir, { listener: this.watcher, pool: this.pool, ignore: first.ignore });
    this.fsReadyResolve();
  }

  private async fsEffect(op: FsOp): Promise<EffectResult> {
    await this.fsReady;
    const applier = this.applier;
    if (applier === null) return { ok: false, code: 'FS_ERROR', message: 'the daemon is stopping' };
    if (op.op === 'rescan') {
      await this.runScan(op.path === '' ? undefined : toSyncPath(op.path));
      return { ok: true };
    }
    if (op.op === 'readBlock') return this.serveBlock(applier, op);
    return applier.apply(op as WriteOp);
  }

  /** Blocks served to one peer go out one after another, each waiting for the socket to drain. */
  private serveBlock(applier: Applier, op: Extract<FsOp, { op: 'readBlock' }>): Promise<EffectResult> {
    const previous = this.serving.get(op.forPeer) ?? Promise.resolve();
    const next = previous.then(() => this.serveOne(applier, op));
    const tail = next.then(() => undefined, () => undefined);
    this.serving.set(op.forPeer, tail);
    void tail.then(() => {
      if (this.serving.get(op.forPeer) === tail) this.serving.delete(op.forPeer);
    });
    return next;
  }

  private async serveOne(applier: Applier, op: Extract<FsOp, { op: 'readBlock' }>): Promise<EffectResult> {
    const session = this.sessions.get(op.forPeer);
    const result = await applier.readBlock(op.path, op.offset, op.length, op.hash);
    if (session === undefined) return { ok: true };
    if (result.ok) {
      if (session.needsDrain) await session.drained();
      session.send({ cmd: 'HEREIS', id: nodeIds.messageId(), hash: op.hash, data: result.data });
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
    await this.watcher?.close();
    if (this.driver !== undefined) await this.driver.stop();
    await this.transport?.close();
    await this.applier?.close();
    this.applier = null;
    await new Promise<void>((r) => (this.control === null ? r() : this.control.close(() => r())));
    rmSync(this.paths.socket, { force: true });
    await this.pool.close();
    await this.log.close();
    log(`network ${this.config.name}: stopped`);
    for (const l of this.stoppedListeners) l();
  }
}

function firstCommand(c: NetworkConfig): Extract<Input, { kind: 'command' }>['command'] {
  if (c.origin.kind === 'create') {
    return { kind: 'create', networkId: c.networkId, name: c.name, peer: c.peer, dir: c.dir, ...(c.admin !== null ? { admin: c.admin } : {}) };
  }
  return { kind: 'join', name: c.name, peer: c.peer, dir: c.dir, via: c.origin.via };
}

