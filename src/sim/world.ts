/**
 * The simulated world: peers, network, disks and a virtual clock, driven one
 * agenda item at a time.
 *
 * Theory of operation
 * - Time is virtual. The agenda (a heap ordered by time, then insertion) holds
 *   everything that will happen: packet deliveries, timers, effect
 *   completions, scans, user edits, faults, restarts. `step()` pops one item,
 *   sets the clock to its time and carries it out. Nothing real is awaited:
 *   the only awaits are on the in-memory log's already-settled promises.
 * - A peer's process reads inputs one at a time: `feed` hands one to
 *   `engine.handle(input, now + skew)` and executes the outputs in order,
 *   exactly as the daemon's driver does: an `append` is written to the log and
 *   flushed (made durable) before any later output of the same call takes
 *   effect; sends go to the network; fs ops queue on the peer's simulated disk
 *   and take effect when they complete (after the disk's latency, in issue
 *   order), immediately followed by their `effectDone`; timers go on the agenda.
 *   A process is single-threaded: inputs that arrive while it is still
 *   carrying out outputs (a connection reset it caused, say) wait their turn.
 * - A paused process keeps its inputs queued until it resumes. A crashed one
 *   loses its memory, its unflushed log writes and its unsynced disk writes;
 *   its restart rebuilds the engine from the log's durable state.
 * - Invariants that can be checked as things happen (integrity, idempotence,
 *   an engine that throws) are checked here; the rest are checked at the end
 *   (checkers.ts). The first violation stops the run.
 * - Model-based tests take the packets over (`holdPackets`): a packet then
 *   waits until the test delivers, duplicates or drops it.
 */
import { canonicalJson } from '../core/json.js';
import type { PeerId } from '../core/ids.js';
import type { Hasher } from '../core/ports.js';
import type { Rng } from '../core/rng.js';
import { seededRng } from '../core/rng.js';
import { seenMessageTtlMs } from '../core/constants.js';
import type { Engine, EngineDeps, EffectId, EffectResult, FsOp, Input, Output, TimerId } from '../engine/types.js';
import type { WireMessage } from '../events/messages.js';
import { initialState, type State } from '../projections/state.js';
import { firstDifference } from '../projections/snapshot.js';
import { MemoryEventLog } from '../store/memory-event-log.js';
import { nodeHasher } from '../store/node-ports.js';
import { rebuild } from '../store/replay.js';
import { ForgingHasher, withoutConflictCopy, withoutTombstones, type BugName } from './bugs.js';
import { EventHeap } from './heap.js';
import { seededIds, seededPeerId } from './ids.js';
import { hasFault, type Knobs } from './knobs.js';
import { Network, corruptRule, delayRule, duplicateRule, dropRule, reorderRule, type Packet } from './network.js';
import { SimPeer, type Inbound } from './peer.js';
import type { DriverOutcome } from './driver.js';
import { Trace } from './trace.js';
import { buildTopology, edgeKey, neighbours, type Edge } from './topology.js';
import { Workload } from './workload.js';
import { describeInput, describeOutputs } from './describe.js';

export const invariantNames = [
  'convergence', 'no-lost-write', 'no-resurrection', 'deterministic-conflicts',
  'idempotence', 'termination', 'replay', 'integrity',
] as const;
export type InvariantName = (typeof invariantNames)[number];

export interface Violation {
  readonly invariant: InvariantName;
  readonly message: string;
  readonly atMs: number;
  readonly step: number;
}

export interface EngineArgs {
  readonly state: State;
  readonly deps: EngineDeps;
  readonly selfAddress: string;
}
export type EngineFactory = (args: EngineArgs) => Engine;

export interface WorldOptions {
  readonly knobs: Knobs;
  readonly createEngine: EngineFactory;
  readonly bugs?: readonly BugName[];
  readonly traceTail?: number;
  readonly keepTrace?: boolean;
  /** Let the simulated users edit on their own (default); off when a test drives every edit. */
  readonly workload?: boolean;
}

export type Phase = 'safety' | 'liveness' | 'quiet';

export type Agenda =
  | { readonly kind: 'deliver'; readonly packet: Packet }
  | { readonly kind: 'timer'; readonly peer: number; readonly incarnation: number; readonly timer: TimerId; readonly token: number }
  | { readonly kind: 'effect'; readonly peer: number; readonly incarnation: number; readonly effect: EffectId; readonly op: FsOp }
  | { readonly kind: 'scan'; readonly peer: number; readonly incarnation: number }
  | { readonly kind: 'workload' }
  | { readonly kind: 'connect'; readonly a: number; readonly b: number }
  | { readonly kind: 'fault'; readonly run: () => void | Promise<void> };

export interface Stats {
  handled: number;
  sent: number;
  sentData: number;
  delivered: number;
  byCmd: Record<string, number>;
  resets: number;
  lostWithConnection: number;
  noLink: number;
  duplicatesDelivered: number;
  duplicatesChecked: number;
  corrupted: number;
  crashes: number;
  restarts: number;
  pauses: number;
  partitions: number;
  linkUps: number;
  userEdits: number;
  fsOps: number;
  fsFailures: number;
  appended: number;
  hostile: number;
}

/** Virtual time 0 is this wall-clock instant (so HLC stamps and conflict names look real). */
export const simEpochMs = Date.UTC(2026, 0, 1);
export const networkName = 'sim';

/** Events that mean the peers are getting somewhere (not just talking or retrying). */
const progressTypes: ReadonlySet<string> = new Set([
  'LocalFileChanged', 'LocalFileDeleted', 'LocalFileMoved', 'FileCommitted', 'VersionAccepted', 'VersionsMerged', 'ConflictDetected', 'ConflictResolved', 'BlockVerified',
]);

/** What a skipped op (a planted bug) reports: success. */
const skipped: DriverOutcome = { result: { ok: true }, rescan: [], reply: null, created: [] };
const isPing = (m: WireMessage): boolean => m.cmd === 'PING' || m.cmd === 'PONG';
const messagePaths = (m: WireMessage): string[] =>
  m.cmd === 'IHAVE' ? m.files.map((f) => f.path) : m.cmd === 'IMOVED' ? [m.oldpath, m.newpath] : m.cmd === 'IDELETED' ? [m.oldpath] : m.cmd === 'RESOLVED' ? [m.path, m.copyPath] : [];
const newStats = (): Stats => ({
  handled: 0, sent: 0, sentData: 0, delivered: 0, byCmd: {}, resets: 0, lostWithConnection: 0, noLink: 0,
  duplicatesDelivered: 0, duplicatesChecked: 0, corrupted: 0, crashes: 0, restarts: 0, pauses: 0, partitions: 0, linkUps: 0,
  userEdits: 0, fsOps: 0, fsFailures: 0, appended: 0, hostile: 0,
});

/** A peer's entries for a message's paths ('' when it names none, '?' when not worth knowing); see World.pathState. */
export type PathState = '' | '?' | { readonly files: readonly unknown[]; readonly transfers: readonly unknown[]; readonly conflicts: readonly unknown[] };

const sameEntries = (a: readonly unknown[], b: readonly unknown[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Equal path states: the very same entries, or (after an entry was replaced) the same contents. */
function samePathState(a: PathState, b: PathState): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b && a !== '?';
  if (sameEntries(a.files, b.files) && sameEntries(a.transfers, b.transfers) && sameEntries(a.conflicts, b.conflicts)) return true;
  return canonicalJson(a) === canonicalJson(b);
}

export class World {
  readonly knobs: Knobs;
  readonly peers: SimPeer[] = [];
  readonly edges: Edge[];
  readonly adjacent: number[][];
  readonly network: Network;
  readonly heap = new EventHeap<Agenda>();
  readonly trace: Trace;
  readonly violations: Violation[] = [];
  readonly stats = newStats();
  readonly bugs: ReadonlySet<BugName>;
  readonly rng: { readonly net: Rng; readonly workload: Rng; readonly faults: Rng; readonly hostile: Rng; readonly timing: Rng };
  readonly networkId: string;
  nowMs = 0;
  steps = 0;
  phase: Phase = 'safety';
  /** Packets scheduled or held and not yet delivered: all, and those that are not PING/PONG. */
  inFlight = 0;
  inFlightData = 0;
  /** Packets held for a model-based test to deliver by hand; null: delivered when due. */
  manual: Packet[] | null = null;
  /** Counts events that change files, versions or conflicts (see progressTypes). */
  progress = 0;
  private readonly workload: Workload;
  private readonly byId = new Map<PeerId, number>();
  private readonly byAddress = new Map<string, number>();
  private readonly edgeSet = new Set<string>();
  private readonly reconnecting = new Set<string>();
  private readonly hasher: Hasher = nodeHasher;
  private readonly engineHasher: Hasher;
  private readonly forging: ForgingHasher | null;
  private timerTokens = 0;
  private readonly duplicatesPossible: boolean;

  constructor(private readonly options: WorldOptions) {
    const k = options.knobs;
    this.knobs = k;
    this.bugs = new Set(options.bugs ?? []);
    const root = seededRng(k.seed);
    const topo = root.fork('topology');
    this.rng = { net: root.fork('net'), workload: root.fork('workload'), faults: root.fork('faults'), hostile: root.fork('hostile'), timing: root.fork('timing') };
    this.networkId = [...root.fork('network-id').bytes(8)].map((b) => b.toString(16).padStart(2, '0')).join('');
    this.edges = buildTopology(k.topology, k.peers, topo);
    this.adjacent = neighbours(k.peers, this.edges);
    for (const [a, b] of this.edges) this.edgeSet.add(edgeKey(a, b));
    this.forging = this.bugs.has('skip-hash-check') ? new ForgingHasher(nodeHasher) : null;
    this.engineHasher = this.forging ?? nodeHasher;
    this.network = new Network(this.edges, this.rng.net, {
      latencyMsMin: k.latencyMsMin,
      latencyMsMax: k.latencyMsMax,
      onCorrupt: (original, corrupted) => {
        this.stats.corrupted++;
        this.forging?.forge(corrupted, original.hash);
      },
    });
    this.network.rules = this.faultRules();
    this.duplicatesPossible = hasFault(k, 'duplicate') || this.bugs.has('apply-duplicates');
    this.workload = new Workload(k.workload, this.rng.workload);
    this.trace = new Trace(options.traceTail ?? 200, options.keepTrace ?? false);
    this.createPeers(root.fork('peers'));
  }

  private createPeers(rng: Rng): void {
    const k = this.knobs;
    for (let i = 0; i < k.peers; i++) {
      const pr = rng.fork(`peer-${i}`);
      const id = seededPeerId(pr);
      const address = `10.0.${i >> 8}.${(i & 255) + 1}:7070`;
      const skewMs = hasFault(k, 'skew') ? pr.int(2 * k.rates.skewMsMax + 1) - k.rates.skewMsMax : 0;
      const log = new MemoryEventLog({ commit: 'manual', hasher: this.hasher });
      const peer = new SimPeer(i, id, address, skewMs, seededIds(pr.fork('ids')), seededIds(pr.fork('driver-ids')), this.hasher, log, (m) =>
        this.violate('integrity', `p${i}: ${m}`),
      );
      this.peers.push(peer);
      this.byId.set(id, i);
      this.byAddress.set(address, i);
    }
  }

  private faultRules() {
    const k = this.knobs;
    const r = k.rates;
    const rules = [];
    if (hasFault(k, 'delay')) rules.push(delayRule(0.2, r.delayMsMax));
    if (hasFault(k, 'reorder')) rules.push(reorderRule(r.reorderSpreadMs));
    if (hasFault(k, 'duplicate')) rules.push(duplicateRule(r.duplicatePerPacket, Math.max(50, r.reorderSpreadMs)));
    if (hasFault(k, 'corrupt')) rules.push(corruptRule(r.corruptPerBlock));
    if (hasFault(k, 'drop')) rules.push(dropRule(r.dropPerPacket));
    return rules;
  }

  // ------------------------------------------------------------ clock and agenda

  engineNow(p: SimPeer): number {
    return simEpochMs + this.nowMs + p.skewMs;
  }

  schedule(atMs: number, item: Agenda): void {
    this.heap.push(Math.max(atMs, this.nowMs), item);
  }

  /** A random delay with mean `meanMs` (exponential), from the timing stream. */
  expDelay(meanMs: number): number {
    return Math.max(1, Math.round(-Math.log(1 - this.rng.timing.next()) * meanMs));
  }

  isEdge(a: number, b: number): boolean {
    return this.edgeSet.has(edgeKey(a, b));
  }

  get stopped(): boolean {
    return this.violations.length > 0;
  }

  violate(invariant: InvariantName, message: string): void {
    this.violations.push({ invariant, message, atMs: this.nowMs, step: this.steps });
    this.trace.add(`${this.nowMs} VIOLATION ${invariant}: ${message}`);
  }

  /** Carry out the next agenda item; false when the agenda is empty. */
  step(): boolean | Promise<boolean> {
    const next = this.heap.pop();
    if (next === undefined) return false;
    this.nowMs = next.atMs;
    this.steps++;
    const r = this.carryOut(next.item);
    return r instanceof Promise ? r.then(() => true) : true;
  }

  private carryOut(item: Agenda): void | Promise<void> {
    switch (item.kind) {
      case 'deliver': return this.deliver(item.packet);
      case 'timer': return this.fireTimer(item);
      case 'effect': return this.completeEffect(item);
      case 'scan': return this.runScan(item.peer, item.incarnation);
      case 'workload': return this.userActs();
      case 'connect': return this.tryConnect(item.a, item.b);
      case 'fault': return item.run();
    }
  }

  // ------------------------------------------------------------ start

  /** Create the network on peer 0, join the others, and set everything in motion. */
  start(): void {
    this.peers.forEach((p, i) => {
      p.engine = this.options.createEngine({ state: initialState(), deps: { hasher: this.engineHasher, ids: p.ids }, selfAddress: p.address });
      const via = this.peers[this.adjacent[i]?.[0] ?? 0] as SimPeer;
      const command: Input =
        i === 0
          ? { kind: 'command', command: { kind: 'create', networkId: this.networkId, name: networkName, peer: p.id, dir: `/sim/p${i}` } }
          : { kind: 'command', command: { kind: 'join', name: networkName, peer: p.id, dir: `/sim/p${i}`, via: via.address } };
      this.feed(p, { input: command });
    });
    for (const [a, b] of this.edges) this.scheduleConnect(a, b, 1 + this.rng.timing.int(20));
    if (this.options.workload !== false) this.schedule(this.expDelay(this.knobs.workload.opEveryMs), { kind: 'workload' });
  }

  // ------------------------------------------------------------ one input

  /**
   * Hand an input to a peer's process: queued while it is paused or still busy
   * with the outputs of the previous input (the daemon's input queue), lost if
   * the process is down.
   */
  feed(p: SimPeer, inbound: Inbound): void {
    if (!p.running || this.stopped) return;
    if (p.paused) {
      p.deferred.push(inbound);
      return;
    }
    if (p.busy) {
      p.inbox.push(inbound);
      return;
    }
    p.busy = true;
    try {
      this.process(p, inbound);
      while (p.inbox.length > 0 && p.running && !p.paused && !this.stopped) this.process(p, p.inbox.shift() as Inbound);
      if (p.paused) p.deferred.push(...p.inbox.splice(0));
    } finally {
      p.busy = false;
    }
  }

  private process(p: SimPeer, inbound: Inbound): void {
    const strictDuplicate = this.isStrictDuplicate(p, inbound);
    const before = strictDuplicate ? this.fileState(p) : null;
    const engine = p.engine as Engine;
    let outputs: Output[];
    try {
      outputs = engine.handle(inbound.input, this.engineNow(p));
    } catch (e) {
      this.violate('integrity', `p${p.index} engine threw on ${describeInput(inbound.input)}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return;
    }
    this.stats.handled++;
    this.trace.add(`${this.nowMs} p${p.index} ${describeInput(inbound.input)} => ${describeOutputs(outputs, this.byId)}`);
    if (before !== null) this.checkDuplicate(p, inbound, outputs, before);
    this.execute(p, outputs);
  }

  /**
   * Is this a second delivery of a message whose paths the peer has not
   * touched since the first? Then it must change nothing. (When the peer's
   * entries for those paths moved on in between, the copy is just a stale
   * message: order independence covers it, and the end-of-run checkers judge
   * what it did.)
   */
  private isStrictDuplicate(p: SimPeer, inbound: Inbound): boolean {
    const id = inbound.originalId;
    if (id === undefined || inbound.input.kind !== 'received') return false;
    const fingerprint = this.pathState(p, inbound.input.msg);
    const first = p.seen.get(id);
    if (first === undefined) {
      p.seen.set(id, { atMs: this.nowMs, fingerprint });
      return false;
    }
    this.stats.duplicatesDelivered++;
    // The engine may forget an id after the TTL; allow a second of slack.
    if (this.nowMs - first.atMs >= seenMessageTtlMs - 1_000 || !samePathState(first.fingerprint, fingerprint)) return false;
    this.stats.duplicatesChecked++;
    return true;
  }

  /**
   * The peer's files, transfers and conflicts entries for the paths a message
   * is about. Only worth computing when a same-id copy can arrive (the
   * duplicate fault, a planted bug, a test delivering by hand); otherwise '?',
   * which never counts as unchanged. The entries themselves are kept, not a
   * serialisation: projection entries are replaced, never mutated, so they
   * still show the state of the first delivery when the copy arrives.
   */
  private pathState(p: SimPeer, msg: WireMessage): PathState {
    const paths = messagePaths(msg);
    if (paths.length === 0) return '';
    if (!this.duplicatesPossible && this.manual === null) return '?';
    const s = (p.engine as Engine).state;
    const conflicts = [];
    for (const c of s.conflicts.values()) if (paths.includes(c.path) || paths.includes(c.copyPath)) conflicts.push(c);
    return { files: paths.map((x) => s.files.get(x)), transfers: paths.map((x) => s.transfers.get(x)), conflicts };
  }

  /**
   * A fingerprint of the files and conflicts projections: every change to an
   * entry stamps it with the new event's sequence number, so the largest
   * stamps (and the number of conflicts, for removals) move iff something changed.
   */
  private fileState(p: SimPeer): string {
    const s = (p.engine as Engine).state;
    let files = 0;
    for (const f of s.files.values()) if (f.changedSeq > files) files = f.changedSeq;
    let conflicts = 0;
    for (const c of s.conflicts.values()) if (c.detectedSeq > conflicts) conflicts = c.detectedSeq;
    return `${s.files.size}|${files}|${s.conflicts.size}|${conflicts}`;
  }

  /** Invariant 5: a message delivered twice changes nothing the second time. */
  private checkDuplicate(p: SimPeer, inbound: Inbound, outputs: readonly Output[], before: string): void {
    const acted = outputs.filter((o) => o.kind === 'send' || o.kind === 'fs');
    const what = describeInput(inbound.input);
    if (acted.length > 0) {
      this.violate('idempotence', `p${p.index} acted on a duplicate (${what}): ${describeOutputs(acted, this.byId)}`);
    } else if (this.fileState(p) !== before) {
      this.violate('idempotence', `p${p.index} changed its files or conflicts on a duplicate (${what})`);
    }
  }

  // ------------------------------------------------------------ outputs

  private execute(p: SimPeer, outputs: readonly Output[]): void {
    const crashAt = p.crashAfterOutputs;
    if (crashAt !== null && outputs.length > crashAt) p.crashAfterOutputs = null;
    for (let i = 0; i < outputs.length; i++) {
      if (crashAt !== null && i === crashAt && outputs.length > crashAt) {
        this.crash(p, `mid-step, after ${i} of ${outputs.length} outputs`);
        return;
      }
      const o = outputs[i] as Output;
      if (o.kind === 'append') {
        this.append(p, o.events);
        continue;
      }
      if (!this.flush(p)) return;
      this.perform(p, o);
      if (!p.running || this.stopped) return;
    }
    this.flush(p);
  }

  private append(p: SimPeer, events: Extract<Output, { kind: 'append' }>['events']): void {
    this.stats.appended += events.length;
    for (const e of events) if (progressTypes.has(e.type)) this.progress++;
    try {
      p.log.write(events, (p.engine as Engine).state).catch((e: unknown) => {
        if (p.alive) this.violate('replay', `p${p.index} log write failed: ${String(e)}`);
      });
      p.unflushed = true;
    } catch (e) {
      this.violate('replay', `p${p.index} log refused a write: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Make the log durable before an output takes effect. False when the log failed. */
  private flush(p: SimPeer): boolean {
    if (!p.unflushed) return true;
    p.unflushed = false;
    try {
      p.log.flush();
      return true;
    } catch (e) {
      this.violate('replay', `p${p.index} log flush failed: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  private perform(p: SimPeer, o: Exclude<Output, { kind: 'append' }>): void {
    switch (o.kind) {
      case 'send': {
        const msg = this.bugs.has('drop-tombstones') ? withoutTombstones(o.msg) : o.msg;
        const to = this.byId.get(o.to);
        if (msg === null) return;
        if (to === undefined) {
          this.stats.noLink++;
          return;
        }
        return this.send(p.index, to, msg);
      }
      case 'fs': return this.runFsOp(p, o.effect, o.op);
      case 'setTimer': {
        const token = ++this.timerTokens;
        p.timers.set(o.timer, token);
        const atMs = o.atMs - simEpochMs - p.skewMs;
        this.schedule(atMs, { kind: 'timer', peer: p.index, incarnation: p.incarnation, timer: o.timer, token });
        return;
      }
      case 'connect': {
        const to = this.byAddress.get(o.address);
        if (to !== undefined && to !== p.index && this.isEdge(p.index, to)) this.scheduleConnect(p.index, to, 1);
        return;
      }
      case 'disconnect': {
        const to = this.byId.get(o.peer);
        if (to !== undefined) this.breakLink(p.index, to, o.reason);
        return;
      }
    }
  }

  send(from: number, to: number, msg: WireMessage): void {
    this.stats.sent++;
    if (!isPing(msg)) this.stats.sentData++;
    this.stats.byCmd[msg.cmd] = (this.stats.byCmd[msg.cmd] ?? 0) + 1;
    const r = this.network.send(from, to, msg, this.nowMs);
    if (r.kind === 'noLink') this.stats.noLink++;
    else if (r.kind === 'held') this.countInFlight(msg, 1);
    else if (r.kind === 'reset') {
      this.stats.resets++;
      this.breakLink(from, to, 'connection reset (packet lost)');
    } else {
      for (const d of r.deliveries) {
        this.countInFlight(d.packet.msg, 1);
        this.schedule(d.atMs, { kind: 'deliver', packet: d.packet });
      }
    }
  }

  private countInFlight(msg: WireMessage, n: number): void {
    this.inFlight += n;
    if (!isPing(msg)) this.inFlightData += n;
  }

  /**
   * An fs op takes effect when it completes, after the disk's latency, in the
   * order the engine issued it; its effectDone follows at once. Until then the
   * disk still shows what the engine's index says (a scan sees no half-done
   * work), and a crash before completion means it never happened.
   */
  private runFsOp(p: SimPeer, effect: EffectId, op: FsOp): void {
    this.stats.fsOps++;
    p.pendingEffects++;
    p.diskFreeAtMs = Math.max(p.diskFreeAtMs, this.nowMs + this.rng.timing.int(this.knobs.diskLatencyMsMax + 1));
    this.schedule(p.diskFreeAtMs, { kind: 'effect', peer: p.index, incarnation: p.incarnation, effect, op });
  }

  // ------------------------------------------------------------ manual network (model-based tests)

  /**
   * Hand every packet to the caller instead of delivering it: the model-based
   * tests decide which packet arrives next, which is lost and which is
   * duplicated. Packets land in `manual` when their delivery time comes.
   */
  holdPackets(): void {
    this.manual ??= [];
  }

  /** Deliver everything held and go back to scheduled delivery (for the liveness phase). */
  releasePackets(): void {
    const held = this.manual ?? [];
    this.manual = null;
    for (const p of held) this.schedule(this.nowMs, { kind: 'deliver', packet: p });
  }

  /** Deliver the held packet at `index` now (a copy stays held when `keepCopy`: a duplicate). */
  deliverHeld(index: number, keepCopy = false): void {
    const held = this.manual ?? [];
    const [p] = keepCopy ? held.slice(index, index + 1) : held.splice(index, 1);
    if (p === undefined) return;
    // The copy left behind is one more packet in flight; deliver() counts this one out.
    if (keepCopy) {
      held.splice(index, 1, { ...p, duplicate: true });
      this.countInFlight(p.msg, 1);
    }
    const manual = this.manual;
    this.manual = null;
    try {
      this.deliver(p);
    } finally {
      this.manual = manual;
    }
  }

  /** Lose the held packet at `index`: TCP turns a loss into a reset of its connection. */
  dropHeld(index: number): void {
    const held = this.manual ?? [];
    const [p] = held.splice(index, 1);
    if (p === undefined) return;
    this.countInFlight(p.msg, -1);
    if (this.network.current(p)) {
      this.stats.resets++;
      this.breakLink(p.from, p.to, 'connection reset (packet lost)');
    }
  }

  /** Run the agenda (timers, effects, scans, redials; packets go to `manual`) for `ms` of virtual time. */
  async advance(ms: number): Promise<void> {
    const until = this.nowMs + ms;
    while (!this.stopped && (this.heap.peek()?.atMs ?? Infinity) <= until) await this.step();
    this.nowMs = Math.max(this.nowMs, until);
  }

  // ------------------------------------------------------------ agenda items

  private deliver(packet: Packet): void {
    if (this.manual !== null) {
      this.manual.push(packet);
      return;
    }
    this.countInFlight(packet.msg, -1);
    if (!this.network.current(packet)) {
      this.stats.lostWithConnection++;
      return;
    }
    const to = this.peers[packet.to] as SimPeer;
    const from = this.peers[packet.from] as SimPeer;
    this.stats.delivered++;
    let msg = packet.msg;
    if (packet.duplicate && this.bugs.has('apply-duplicates')) msg = { ...msg, id: from.driverIds.messageId() };
    this.feed(to, { input: { kind: 'received', from: from.id, msg }, originalId: packet.originalId });
  }

  private fireTimer(item: Extract<Agenda, { kind: 'timer' }>): void {
    const p = this.peers[item.peer] as SimPeer;
    if (p.incarnation !== item.incarnation || p.timers.get(item.timer) !== item.token) return;
    p.timers.delete(item.timer);
    this.feed(p, { input: { kind: 'timer', timer: item.timer } });
  }

  private completeEffect(item: Extract<Agenda, { kind: 'effect' }>): void {
    const p = this.peers[item.peer] as SimPeer;
    if (p.incarnation !== item.incarnation) return;
    if (p.paused) {
      p.stalled.push(item);
      return;
    }
    p.pendingEffects--;
    const op = this.bugs.has('no-conflict-copy') ? withoutConflictCopy(item.op) : item.op;
    const outcome = op === 'skip' ? skipped : p.driver.execute(op, this.engineNow(p));
    if (!outcome.result.ok) this.stats.fsFailures++;
    if (outcome.created.length > 0) {
      p.scanner.touch(outcome.created);
      this.scheduleScan(p);
    }
    if (outcome.reply !== null) {
      const to = this.byId.get(outcome.reply.to);
      if (to !== undefined) this.send(p.index, to, outcome.reply.msg);
    }
    for (const path of outcome.rescan) this.feedScan(p, path === '' ? null : path);
    this.feed(p, { input: { kind: 'effectDone', effect: item.effect, result: outcome.result } });
  }

  /** Report what is on disk at `path` (null: the whole folder) as local changes. */
  feedScan(p: SimPeer, path: string | null): void {
    if (!p.running) return;
    const changes = path === null ? p.scanner.fullScan((p.engine as Engine).state.files) : [p.scanner.observePath(path)];
    for (const change of changes) this.feed(p, { input: { kind: 'local', change } });
  }

  scheduleScan(p: SimPeer): void {
    if (p.scanScheduled || !p.alive) return;
    p.scanScheduled = true;
    this.schedule(this.nowMs + this.rng.timing.int(this.knobs.scanDelayMsMax + 1), { kind: 'scan', peer: p.index, incarnation: p.incarnation });
  }

  private runScan(index: number, incarnation: number): void {
    const p = this.peers[index] as SimPeer;
    if (p.incarnation !== incarnation) return;
    if (p.paused) {
      p.stalled.push({ kind: 'scan', peer: index, incarnation });
      return;
    }
    p.scanScheduled = false;
    for (const change of p.scanner.drain()) this.feed(p, { input: { kind: 'local', change } });
  }

  private userActs(): void {
    if (this.phase !== 'safety') return;
    this.userEdit(this.peers.filter((p) => p.alive));
    this.schedule(this.nowMs + this.expDelay(this.knobs.workload.opEveryMs), { kind: 'workload' });
  }

  /** One user action on the disks of `on` (the watcher hears of it, the scanner reports it later). */
  userEdit(on: readonly SimPeer[]): void {
    const disks = on.map((p) => ({ peer: p.index, disk: p.disk }));
    for (const edit of this.workload.act(disks, simEpochMs + this.nowMs)) {
      const p = this.peers[edit.peer] as SimPeer;
      this.stats.userEdits++;
      this.trace.add(`${this.nowMs} user p${p.index} ${edit.op} ${edit.detail}`);
      for (const [from, to] of edit.moves) p.scanner.moved(from, to);
      p.scanner.touch(edit.touched);
      this.scheduleScan(p);
    }
  }

  // ------------------------------------------------------------ connections

  scheduleConnect(a: number, b: number, delayMs: number): void {
    const key = edgeKey(a, b);
    if (this.reconnecting.has(key)) return;
    this.reconnecting.add(key);
    this.schedule(this.nowMs + delayMs, { kind: 'connect', a, b });
  }

  /** Open a connection if both ends are up and the network lets the handshake through; else retry later. */
  private tryConnect(a: number, b: number): void {
    this.reconnecting.delete(edgeKey(a, b));
    if (this.network.isUp(a, b)) return;
    const pa = this.peers[a] as SimPeer;
    const pb = this.peers[b] as SimPeer;
    if (!pa.running || !pb.running || pa.paused || pb.paused || !this.network.canConnect(a, b)) {
      this.scheduleConnect(a, b, 1 + this.rng.timing.int(this.knobs.reconnectDelayMsMax + 1));
      return;
    }
    this.network.bringUp(a, b);
    this.stats.linkUps++;
    this.trace.add(`${this.nowMs} link p${a}-p${b} up`);
    // The transport's handshake: each side learns the connection, then reads the other's HELLO.
    this.feed(pa, { input: { kind: 'connected', peer: pb.id, address: pb.address, direction: 'out' } });
    this.feed(pa, { input: { kind: 'received', from: pb.id, msg: this.hello(pb) } });
    this.feed(pb, { input: { kind: 'connected', peer: pa.id, address: pa.address, direction: 'in' } });
    this.feed(pb, { input: { kind: 'received', from: pa.id, msg: this.hello(pa) } });
  }

  private hello(p: SimPeer): WireMessage {
    const networkId = p.engine?.state.meta.networkId ?? '';
    return { cmd: 'HELLO', id: p.driverIds.messageId(), name: networkName, uuid: p.id, address: p.address, network: networkId };
  }

  /** The connection between a and b is gone: both ends hear of it, and the transport redials later. */
  breakLink(a: number, b: number, reason: string): void {
    const link = this.network.link(a, b);
    if (link === undefined || !link.up) return;
    for (const held of link.held) this.countInFlight(held.msg, -1);
    this.network.tearDown(a, b);
    this.trace.add(`${this.nowMs} link p${a}-p${b} down: ${reason}`);
    const pa = this.peers[a] as SimPeer;
    const pb = this.peers[b] as SimPeer;
    this.feed(pa, { input: { kind: 'disconnected', peer: pb.id, reason } });
    this.feed(pb, { input: { kind: 'disconnected', peer: pa.id, reason } });
    this.scheduleConnect(a, b, 1 + this.rng.timing.int(this.knobs.reconnectDelayMsMax + 1));
  }

  // ------------------------------------------------------------ process faults

  /** The machine dies: memory, unflushed log writes, unsynced disk writes and temp files are lost. */
  crash(p: SimPeer, why: string): void {
    if (!p.alive) return;
    this.stats.crashes++;
    p.log = p.log.crash();
    p.disk.crash();
    p.driver.crash();
    p.scanner.crash();
    p.forget();
    this.trace.add(`${this.nowMs} crash p${p.index} (${why})`);
    for (const n of this.adjacent[p.index] ?? []) this.breakLink(p.index, n, 'connection lost');
  }

  /** A new process: the engine is rebuilt from the log's durable state, then the folder is rescanned. */
  async restart(p: SimPeer): Promise<void> {
    if (p.alive) return;
    const state = await p.log.loadState();
    const rebuilt = await rebuild(p.log);
    const difference = firstDifference(state, rebuilt);
    if (difference !== null) this.violate('replay', `p${p.index} after a crash, the stored projections are not the fold of the durable log: ${difference}`);
    p.alive = true;
    p.engine = this.options.createEngine({ state, deps: { hasher: this.engineHasher, ids: p.ids }, selfAddress: p.address });
    this.stats.restarts++;
    this.trace.add(`${this.nowMs} restart p${p.index} at seq ${state.meta.head}`);
    this.feedScan(p, null);
    for (const n of this.adjacent[p.index] ?? []) this.scheduleConnect(p.index, n, 1 + this.rng.timing.int(20));
  }

  pause(p: SimPeer, forMs: number): void {
    if (!p.running || p.paused) return;
    this.stats.pauses++;
    p.paused = true;
    this.trace.add(`${this.nowMs} pause p${p.index} for ${forMs}ms`);
    const incarnation = p.incarnation;
    this.schedule(this.nowMs + forMs, { kind: 'fault', run: () => (p.incarnation === incarnation ? this.resume(p) : undefined) });
  }

  resume(p: SimPeer): void {
    if (!p.paused) return;
    p.paused = false;
    this.trace.add(`${this.nowMs} resume p${p.index} (${p.deferred.length} queued inputs)`);
    const queued = p.deferred;
    p.deferred = [];
    for (const inbound of queued) this.feed(p, inbound);
    for (const item of p.stalled.splice(0)) this.schedule(this.nowMs, item);
  }

  // ------------------------------------------------------------ healing

  /** Liveness: every fault off, every partition healed, every peer up, every link redialled, every folder rescanned. */
  async healAll(): Promise<void> {
    this.phase = 'liveness';
    this.trace.add(`${this.nowMs} heal: liveness phase`);
    this.network.rules = [];
    this.network.partition.healAll();
    this.network.clogs.clear();
    for (const d of this.network.release(this.nowMs)) this.schedule(d.atMs, { kind: 'deliver', packet: d.packet });
    for (const p of this.peers) {
      p.disk.full = false;
      p.crashAfterOutputs = null;
      if (!p.alive) await this.restart(p);
      else if (p.paused) this.resume(p);
    }
    for (const [a, b] of this.edges) if (!this.network.isUp(a, b)) this.scheduleConnect(a, b, 1);
    for (const p of this.peers) this.feedScan(p, null);
  }

  /** Healed and idle: every link up, and no data packets, effects, scans or queued inputs left. */
  get settled(): boolean {
    if (this.inFlightData > 0) return false;
    if (!this.edges.every(([a, b]) => this.network.isUp(a, b))) return false;
    return this.peers.every((p) => p.running && !p.paused && p.pendingEffects === 0 && !p.scanScheduled && p.deferred.length === 0 && p.stalled.length === 0);
  }

  peerName(id: PeerId): string {
    const i = this.byId.get(id);
    return i === undefined ? id : `p${i}`;
  }
}
