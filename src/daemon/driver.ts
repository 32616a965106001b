/**
 * The driver: runs the sans-IO engine against the real world.
 *
 * Theory of operation
 * - Inputs (socket messages, watcher changes, timers, effect results, CLI
 *   commands) are queued and handed to `engine.handle(input, now)` one at a
 *   time, in arrival order.
 * - The log is written first: each handle() call's `append` output goes to
 *   `log.write` (group-committed with whatever else is in flight), and the
 *   call's other outputs (sends, fs ops, timers, dials) run only once that
 *   write is durable. Effects of successive calls keep their order, because
 *   each call's effects are chained after the previous call's. The exception
 *   is block traffic (see needsDurability): it is in the log's batch before it
 *   goes out, in call order, but does not wait for the fsync.
 * - The engine never waits: handle() returns immediately and the next input
 *   is processed while earlier batches are being synced, which is what lets
 *   the store group-commit.
 * - An effect's outcome comes back as an `effectDone` input.
 */
import type { EventLog } from '../store/event-log.js';
import type { EffectResult, Engine, FsOp, Input, Output } from '../engine/types.js';
import type { PeerId } from '../core/ids.js';
import type { WireMessage } from '../events/messages.js';

export interface DriverPorts {
  readonly send: (to: PeerId, msg: WireMessage) => void;
  readonly fs: (op: FsOp) => Promise<EffectResult>;
  readonly connect: (address: string) => void;
  readonly disconnect: (peer: PeerId, reason: string) => void;
  readonly now: () => number;
  /** Called when something fails that the driver cannot hand back to the engine (a log write). */
  readonly fatal: (error: unknown) => void;
}

export class Driver {
  private readonly queue: Input[] = [];
  private running = false;
  private effects: Promise<void> = Promise.resolve();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  /** Resolvers waiting for the input queue and effects to drain (tests, shutdown). */
  private idleWaiters: (() => void)[] = [];
  private pendingEffects = 0;

  constructor(
    readonly engine: Engine,
    private readonly log: EventLog,
    private readonly ports: DriverPorts,
  ) {}

  submit(input: Input): void {
    if (this.stopped) return;
    this.queue.push(input);
    if (!this.running) this.drain();
  }

  private drain(): void {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const input = this.queue.shift() as Input;
        const outputs = this.engine.handle(input, this.ports.now());
        this.execute(outputs);
      }
    } catch (e) {
      this.ports.fatal(e);
    } finally {
      this.running = false;
    }
    this.checkIdle();
  }

  private execute(outputs: readonly Output[]): void {
    const appends = outputs.filter((o): o is Extract<Output, { kind: 'append' }> => o.kind === 'append');
    const durable = Promise.all(appends.map((a) => this.log.write(a.events, this.engine.state)));
    const rest: Output[] = [];
    for (const o of outputs) {
      if (o.kind === 'append') continue;
      if (needsDurability(o)) rest.push(o);
      else this.perform(o);
    }
    this.pendingEffects++;
    this.effects = this.effects
      .then(() => durable)
      .then(() => {
        for (const o of rest) this.perform(o);
      })
      .catch((e: unknown) => this.ports.fatal(e))
      .finally(() => {
        this.pendingEffects--;
        this.checkIdle();
      });
  }

  private perform(o: Output): void {
    if (this.stopped) return;
    switch (o.kind) {
      case 'append':
        return;
      case 'send':
        return this.ports.send(o.to, o.msg);
      case 'connect':
        return this.ports.connect(o.address);
      case 'disconnect':
        return this.ports.disconnect(o.peer, o.reason);
      case 'setTimer': {
        clearTimeout(this.timers.get(o.timer));
        const delayMs = Math.max(0, o.atMs - this.ports.now());
        const t = setTimeout(() => {
          this.timers.delete(o.timer);
          this.submit({ kind: 'timer', timer: o.timer });
        }, delayMs);
        t.unref();
        this.timers.set(o.timer, t);
        return;
      }
      case 'fs': {
        this.pendingEffects++;
        this.ports
          .fs(o.op)
          .catch((e: unknown): EffectResult => ({ ok: false, code: 'FS_ERROR', message: e instanceof Error ? e.message : String(e) }))
          .then((result) => this.submit({ kind: 'effectDone', effect: o.effect, result }))
          .finally(() => {
            this.pendingEffects--;
            this.checkIdle();
          });
        return;
      }
    }
  }

  /** True when no input is queued and no effect is in flight. */
  get idle(): boolean {
    return !this.running && this.queue.length === 0 && this.pendingEffects === 0;
  }

  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private checkIdle(): void {
    if (!this.idle) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Stop taking inputs and timers; wait for effects already started and for the log. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await this.effects;
  }
}

/**
 * Whether an output must wait for its call's events to be durable. Only the
 * block traffic does not: asking for blocks (IWANT), answering that we lack
 * them (DONTHAVE) or a PING, reading a block to serve it, and writing or
 * copying a verified block into a temporary file. None of these is seen by
 * anyone as a fact: a crash before the log is durable leaves at most a temp
 * file (which a restart removes, or keeps for a transfer still under way), and
 * requests that are asked again. Waiting
 * for the log there put two group commits (one per peer, ~20 ms each on a
 * busy disk) into every block's round trip, which capped a transfer at a few
 * hundred blocks a second. Everything that changes what a peer or the folder
 * shows (announcements, commits, renames, removals, timers, dials) still
 * waits.
 */
function needsDurability(o: Output): boolean {
  if (o.kind === 'send') return !(o.msg.cmd === 'IWANT' || o.msg.cmd === 'DONTHAVE' || o.msg.cmd === 'PING' || o.msg.cmd === 'PONG');
  if (o.kind === 'fs') return !(o.op.op === 'readBlock' || o.op.op === 'writeBlock' || o.op.op === 'copyBlock' || o.op.op === 'keepBlock');
  return true;
}
