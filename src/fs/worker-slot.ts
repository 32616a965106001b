/**
 * The life of one worker thread in a pool (BlockPool): busy while
 * it has work; once idle, stopped after the pool's idle time (a daemon at
 * rest then holds no worker's memory), the next job starting another; out of
 * the pool for good when it is stopped, dies or the pool closes.
 */
import { Worker } from 'node:worker_threads';

/** Start the worker module `name` (beside this one) as compiled JS, or through tsx when running from source. */
export function spawnWorker(name: string): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, here));
  // A worker does not inherit the parent's loader: register tsx in it first.
  const target = new URL(`./${name}.ts`, here).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(target)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`));
}

/** What a pool keeps per worker (it adds its own view of the work in flight). */
export interface WorkerSlot {
  readonly worker: Worker;
  alive: boolean;
  /** Stops the worker once it has been idle for the pool's idle time. */
  idleTimer: NodeJS.Timeout | null;
}

/** The worker has work again: it is not idle. */
export function markBusy(slot: WorkerSlot): void {
  if (slot.idleTimer !== null) clearTimeout(slot.idleTimer);
  slot.idleTimer = null;
}

/** The worker ran out of work: `retire` runs after `idleMs` unless work comes first. */
export function markIdle(slot: WorkerSlot, idleMs: number, retire: () => void): void {
  markBusy(slot);
  slot.idleTimer = setTimeout(retire, idleMs);
  slot.idleTimer.unref();
}

/** Take `slot` out of `slots` for good. False when it already was (a worker reports both 'error' and 'exit'). */
export function removeSlot<S extends WorkerSlot>(slots: S[], slot: S): boolean {
  if (!slot.alive) return false;
  slot.alive = false;
  markBusy(slot);
  slots.splice(slots.indexOf(slot), 1);
  return true;
}

/** Stop every worker of a closing pool. */
export async function stopAll<S extends WorkerSlot>(slots: S[]): Promise<void> {
  await Promise.all(slots.splice(0).map((s) => {
    s.alive = false;
    markBusy(s);
    return s.worker.terminate();
  }));
}
