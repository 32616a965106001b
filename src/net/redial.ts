/**
 * Keeping connections up: redial lost or failed peers with exponential
 * backoff and jitter, bounded by redialDelayMaxMs.
 *
 * Theory of operation: the daemon says which addresses it wants a connection
 * to (`keep`) and which it no longer does (`release`). For each kept address
 * there is at most one dial or one live session at a time. A failed dial or a
 * closed session schedules the next dial after redialDelayMs(attempt), where
 * the attempt count grows with each failure and goes back to zero once a
 * session has stayed up for redialDelayMaxMs. Refusals that retrying cannot
 * fix (wrong secret, wrong network, ourselves, a malformed address) stop the
 * redialing of that address and are reported with `nextDelayMs: null`.
 * A session this side closes releases its address. Time and randomness come in through `timers` and `random`, so tests drive
 * the schedule without waiting.
 */
import { assert } from '../core/assert.js';
import { redialBackoffFactor, redialDelayMaxMs, redialDelayMinMs } from '../core/constants.js';
import { PloppyError, isPloppyError, type ErrorCode } from '../core/errors.js';
import type { Session } from './session.js';

/**
 * The delay before redial number `attempt` (0 for the first): a uniform draw
 * from [cap/2, cap] with cap = min(max, min * factor^attempt). `random01` is
 * in [0, 1). Halving the range keeps a floor under the delay while still
 * spreading peers that lost the same link at the same moment.
 */
export function redialDelayMs(attempt: number, random01: number): number {
  assert(Number.isInteger(attempt) && attempt >= 0, 'attempt is a count');
  assert(random01 >= 0 && random01 < 1, 'random01 is in [0, 1)');
  const cap = Math.min(redialDelayMaxMs, redialDelayMinMs * redialBackoffFactor ** Math.min(attempt, 64));
  return Math.round(cap / 2 + (cap / 2) * random01);
}

/** A timer port: the real one wraps setTimeout; tests pass a manual clock. */
export interface Timers {
  set(callback: () => void, delayMs: number): unknown;
  clear(handle: unknown): void;
}

export const nodeTimers: Timers = {
  set: (callback, delayMs) => setTimeout(callback, delayMs).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface RedialerOptions {
  /** Usually Transport.dial: it already hands a ready session to onPeer. */
  readonly dial: (address: string) => Promise<Session>;
  /** A dial failed or a session ended; `nextDelayMs` is null when the address is given up. */
  readonly onFailure?: (address: string, error: PloppyError, nextDelayMs: number | null) => void;
  readonly random?: () => number;
  readonly timers?: Timers;
}

const permanentCodes: ReadonlySet<ErrorCode> = new Set(['SECRET_REJECTED', 'PEER_WRONG_NETWORK', 'PEER_SELF', 'USAGE']);

interface Kept {
  attempt: number;
  timer: unknown;
  stableTimer: unknown;
  session: Session | null;
  dialing: boolean;
}

export class Redialer {
  private readonly kept = new Map<string, Kept>();
  private readonly random: () => number;
  private readonly timers: Timers;

  constructor(private readonly options: RedialerOptions) {
    this.random = options.random ?? Math.random;
    this.timers = options.timers ?? nodeTimers;
  }

  /** Addresses being kept, with their current failure count. */
  get addresses(): ReadonlyMap<string, number> {
    return new Map([...this.kept].map(([address, kept]) => [address, kept.attempt]));
  }

  /** Keep a connection to `address`: dial now unless already connected or dialing. */
  keep(address: string): void {
    if (this.kept.has(address)) return;
    this.kept.set(address, { attempt: 0, timer: null, stableTimer: null, session: null, dialing: false });
    this.connect(address);
  }

  /** Stop redialing `address`; a live session to it stays up (close it yourself if you want). */
  release(address: string): void {
    const kept = this.kept.get(address);
    if (kept === undefined) return;
    this.timers.clear(kept.timer);
    this.timers.clear(kept.stableTimer);
    this.kept.delete(address);
  }

  close(): void {
    for (const address of [...this.kept.keys()]) this.release(address);
  }

  private connect(address: string): void {
    const kept = this.kept.get(address);
    if (kept === undefined || kept.dialing || kept.session !== null) return;
    kept.timer = null;
    kept.dialing = true;
    this.options.dial(address).then(
      (session) => this.connected(address, kept, session),
      (error: unknown) => this.failed(address, kept, asPloppyError(error, address)),
    );
  }

  private connected(address: string, kept: Kept, session: Session): void {
    kept.dialing = false;
    if (this.kept.get(address) !== kept) return; // released meanwhile: the session is the caller's now
    kept.session = session;
    kept.stableTimer = this.timers.set(() => {
      kept.attempt = 0;
    }, redialDelayMaxMs);
    session.once('close', (reason) => {
      kept.session = null;
      this.timers.clear(kept.stableTimer);
      if (this.kept.get(address) !== kept) return;
      if (reason.kind === 'local') {
        this.release(address); // closing it ourselves means we no longer want it
        return;
      }
      this.failed(address, kept, reason.error ?? new PloppyError('PEER_UNREACHABLE', reason.message));
    });
  }

  private failed(address: string, kept: Kept, error: PloppyError): void {
    kept.dialing = false;
    if (this.kept.get(address) !== kept) return;
    if (permanentCodes.has(error.code)) {
      this.release(address);
      this.options.onFailure?.(address, error, null);
      return;
    }
    const delayMs = redialDelayMs(kept.attempt, this.random());
    kept.attempt += 1;
    kept.timer = this.timers.set(() => this.connect(address), delayMs);
    this.options.onFailure?.(address, error, delayMs);
  }
}

function asPloppyError(error: unknown, address: string): PloppyError {
  if (isPloppyError(error)) return error;
  return new PloppyError('PEER_UNREACHABLE', `dialling ${address} failed: ${error instanceof Error ? error.message : String(error)}`);
}
