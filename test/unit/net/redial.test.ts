import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { redialBackoffFactor, redialDelayMaxMs, redialDelayMinMs } from '../../../src/core/constants.js';
import { PloppyError } from '../../../src/core/errors.js';
import { Redialer, redialDelayMs, type Timers } from '../../../src/net/redial.js';
import type { CloseReason, Session } from '../../../src/net/session.js';
import { eventually, startPeer, type TestPeer } from './helpers.js';

/** A clock the test advances by hand: timers fire only when `runDue` is called. */
class ManualTimers implements Timers {
  nowMs = 0;
  private nextHandle = 1;
  readonly pending = new Map<number, { atMs: number; callback: () => void; delayMs: number }>();
  set(callback: () => void, delayMs: number): unknown {
    const handle = this.nextHandle++;
    this.pending.set(handle, { atMs: this.nowMs + delayMs, callback, delayMs });
    return handle;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Delays of the timers currently waiting, in creation order. */
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.delayMs);
  }
  advance(ms: number): void {
    this.nowMs += ms;
    for (const [handle, timer] of [...this.pending]) {
      if (timer.atMs > this.nowMs) continue;
      this.pending.delete(handle);
      timer.callback();
    }
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('redial backoff schedule', () => {
  it('stays within [cap/2, cap], cap growing from the minimum to the maximum', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const cap = Math.min(redialDelayMaxMs, redialDelayMinMs * redialBackoffFactor ** attempt);
        const delay = redialDelayMs(attempt, r);
        assert.ok(delay >= Math.floor(cap / 2) && delay <= cap, `attempt ${attempt}: ${delay} outside [${cap / 2}, ${cap}]`);
        assert.ok(delay <= redialDelayMaxMs);
      }),
    );
    assert.equal(redialDelayMs(0, 0), redialDelayMinMs / 2);
    assert.equal(redialDelayMs(1000, 0.999999), redialDelayMaxMs);
  });

  it('grows with each attempt until it reaches the cap', () => {
    const caps = Array.from({ length: 20 }, (_, attempt) => redialDelayMs(attempt, 0.999999));
    for (let i = 1; i < caps.length; i++) assert.ok((caps[i] as number) >= (caps[i - 1] as number));
    assert.equal(caps.at(-1), redialDelayMaxMs);
  });
});

describe('Redialer', () => {
  it('retries failed dials with growing delays, and forgets released addresses', async () => {
    const timers = new ManualTimers();
    const dials: string[] = [];
    const failures: (number | null)[] = [];
    const redialer = new Redialer({
      dial: async (address) => {
        dials.push(address);
        throw new PloppyError('PEER_UNREACHABLE', 'connection refused');
      },
      onFailure: (_address, _error, next) => failures.push(next),
      random: () => 0.5,
      timers,
    });
    redialer.keep('10.0.0.1:4000');
    redialer.keep('10.0.0.1:4000');
    await settle();
    assert.deepEqual(dials, ['10.0.0.1:4000'], 'one dial per address at a time');
    for (let i = 0; i < 12; i++) {
      timers.advance(redialDelayMaxMs);
      await settle();
    }
    assert.equal(dials.length, 13);
    assert.deepEqual(failures.slice(0, 4), [0, 1, 2, 3].map((n) => redialDelayMs(n, 0.5)));
    assert.equal(failures.at(-1), redialDelayMs(40, 0.5), 'capped');
    redialer.release('10.0.0.1:4000');
    assert.equal(timers.pending.size, 0);
    timers.advance(redialDelayMaxMs);
    await settle();
    assert.equal(dials.length, 13);
  });

  it('gives up on refusals that retrying cannot fix', async () => {
    const timers = new ManualTimers();
    const failures: [string, number | null][] = [];
    const redialer = new Redialer({
      dial: async () => {
        throw new PloppyError('SECRET_REJECTED', 'wrong network secret');
      },
      onFailure: (_address, error, next) => failures.push([error.code, next]),
      timers,
    });
    redialer.keep('10.0.0.2:4000');
    await settle();
    assert.deepEqual(failures, [['SECRET_REJECTED', null]]);
    assert.equal(redialer.addresses.size, 0);
    assert.equal(timers.pending.size, 0);
  });

  it('redials when a session is lost, but not when this side closed it', async () => {
    const timers = new ManualTimers();
    const sessions: EventEmitter[] = [];
    const redialer = new Redialer({
      dial: async () => {
        const session = new EventEmitter();
        sessions.push(session);
        return session as unknown as Session;
      },
      random: () => 0,
      timers,
    });
    redialer.keep('10.0.0.3:4000');
    await settle();
    assert.equal(sessions.length, 1);
    sessions[0]?.emit('close', { kind: 'lost', error: null, message: 'reset' } satisfies CloseReason);
    assert.deepEqual(timers.delays(), [redialDelayMs(0, 0)]);
    timers.advance(redialDelayMs(0, 0));
    await settle();
    assert.equal(sessions.length, 2);
    sessions[1]?.emit('close', { kind: 'local', error: null, message: 'bye' } satisfies CloseReason);
    assert.equal(timers.pending.size, 0);
    assert.equal(redialer.addresses.size, 0);
  });
});

describe('Redialer with real sockets', () => {
  const peers: TestPeer[] = [];
  after(async () => {
    await Promise.all(peers.map((p) => p.transport.close()));
  });

  it('reconnects after the peer drops the connection', async () => {
    const a = await startPeer();
    const b = await startPeer();
    peers.push(a, b);
    const timers = new ManualTimers();
    const redialer = new Redialer({ dial: (address) => b.transport.dial(address), timers, random: () => 0 });
    redialer.keep(a.transport.address);
    const first = await eventually(() => a.sessions[0], 'first connection');
    first.close('dropping you');
    await eventually(() => timers.pending.size === 1 && b.transport.sessions.size === 0, 'B schedules a redial');
    timers.advance(redialDelayMaxMs);
    const second = await eventually(() => a.sessions[1], 'second connection');
    assert.equal(second.state, 'ready');
    assert.equal(second.peerId, b.peerId);
    redialer.close();
  });
});
