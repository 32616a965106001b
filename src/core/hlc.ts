/**
 * Hybrid logical clock (Kulkarni et al.). A stamp is (wall milliseconds, logical
 * counter); ties between peers are broken by peer id where a total order is
 * needed. The clock reading is always an argument: this module never reads time.
 */
export interface Hlc {
  readonly wallMs: number;
  readonly counter: number;
}

export const zeroHlc: Hlc = Object.freeze({ wallMs: 0, counter: 0 });

/** A local event at physical time `nowMs`. */
export function tick(last: Hlc, nowMs: number): Hlc {
  if (nowMs > last.wallMs) return { wallMs: nowMs, counter: 0 };
  return { wallMs: last.wallMs, counter: last.counter + 1 };
}

/** Receiving a stamp `remote` at physical time `nowMs`. */
export function receive(last: Hlc, remote: Hlc, nowMs: number): Hlc {
  const wallMs = Math.max(last.wallMs, remote.wallMs, nowMs);
  if (wallMs === last.wallMs && wallMs === remote.wallMs) {
    return { wallMs, counter: Math.max(last.counter, remote.counter) + 1 };
  }
  if (wallMs === last.wallMs) return { wallMs, counter: last.counter + 1 };
  if (wallMs === remote.wallMs) return { wallMs, counter: remote.counter + 1 };
  return { wallMs, counter: 0 };
}

export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  return 0;
}

export const isHlc = (x: unknown): x is Hlc =>
  typeof x === 'object' &&
  x !== null &&
  Number.isSafeInteger((x as Hlc).wallMs) &&
  (x as Hlc).wallMs >= 0 &&
  Number.isSafeInteger((x as Hlc).counter) &&
  (x as Hlc).counter >= 0;

/** ISO-8601 rendering of the wall part, for people. */
export const hlcToIso = (h: Hlc): string => new Date(h.wallMs).toISOString();
