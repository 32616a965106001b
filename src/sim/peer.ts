/**
 * One simulated peer: the real engine and projections over a MemoryEventLog,
 * with a simulated disk, driver and scanner around them, and the bookkeeping
 * the world needs to crash, pause and restart it.
 *
 * The engine and the log are replaced on restart (a new process); the disk
 * survives (minus unsynced writes). `incarnation` counts restarts: anything
 * scheduled for an earlier incarnation (a timer, an effect's completion) died
 * with that process and is discarded when it comes due.
 */
import type { PeerId } from '../core/ids.js';
import type { Hasher, IdSource } from '../core/ports.js';
import type { Engine, Input, TimerId } from '../engine/types.js';
import type { MemoryEventLog } from '../store/memory-event-log.js';
import { SimDisk } from './disk.js';
import { SimDriver, type IntegrityReport } from './driver.js';
import { Scanner } from './scanner.js';
import type { Agenda, PathState } from './world.js';

/** Something the peer's process will read, with what the world needs to check it. */
export interface Inbound {
  readonly input: Input;
  /** For received messages: the id the sender gave it (duplicate tracking). */
  readonly originalId?: string;
}

export class SimPeer {
  readonly disk: SimDisk;
  readonly driver: SimDriver;
  readonly scanner: Scanner;
  engine: Engine | null = null;
  log: MemoryEventLog;
  incarnation = 0;
  alive = true;
  paused = false;
  /** Inputs that arrived while paused, in order. */
  deferred: Inbound[] = [];
  /** Effects and scans that came due while paused (the process does them when it resumes). */
  stalled: Agenda[] = [];
  /** When the disk finishes the last op queued (ops complete in order). */
  diskFreeAtMs = 0;
  /** Inputs that arrived while the process was busy with the previous one. */
  inbox: Inbound[] = [];
  busy = false;
  /** The current token of each armed timer (re-arming replaces it). */
  timers = new Map<TimerId, number>();
  pendingEffects = 0;
  scanScheduled = false;
  /** Message id -> first delivery (virtual time, and the peer's state for the message's paths then), this incarnation. */
  seen = new Map<string, { readonly atMs: number; readonly fingerprint: PathState }>();
  /** Crash after this many outputs of the next handle() call that has more (a mid-step crash). */
  crashAfterOutputs: number | null = null;
  /** Set when the log has writes that are not flushed yet. */
  unflushed = false;

  constructor(
    readonly index: number,
    readonly id: PeerId,
    readonly address: string,
    readonly skewMs: number,
    readonly ids: IdSource,
    readonly driverIds: IdSource,
    hasher: Hasher,
    log: MemoryEventLog,
    integrity: IntegrityReport,
  ) {
    this.disk = new SimDisk(hasher);
    this.driver = new SimDriver(this.disk, hasher, driverIds, integrity);
    this.scanner = new Scanner(this.disk);
    this.log = log;
  }

  get running(): boolean {
    return this.alive && this.engine !== null;
  }

  /** The process is gone: everything in memory goes with it. */
  forget(): void {
    this.engine = null;
    this.alive = false;
    this.paused = false;
    this.deferred = [];
    this.stalled = [];
    this.diskFreeAtMs = 0;
    this.inbox = [];
    this.timers = new Map();
    this.pendingEffects = 0;
    this.scanScheduled = false;
    this.seen = new Map();
    this.crashAfterOutputs = null;
    this.unflushed = false;
    this.incarnation++;
  }
}
