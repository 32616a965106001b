/**
 * Version vectors: `{peerId: counter}`. Counters are pure counters (never seeded
 * from a clock). A missing entry means 0. Vectors are kept with sorted keys and
 * no zero entries so that equal vectors serialise to equal bytes.
 */
import type { PeerId } from './ids.js';

export type VersionVector = Readonly<Record<string, number>>;
export type Ordering = 'equal' | 'before' | 'after' | 'concurrent';

export const emptyVector: VersionVector = Object.freeze({});

export function normalise(v: Record<string, number>): VersionVector {
  const out: Record<string, number> = {};
  for (const k of Object.keys(v).sort()) {
    const n = v[k];
    if (n !== undefined && n > 0) out[k] = n;
  }
  return out;
}

export function increment(v: VersionVector, peer: PeerId): VersionVector {
  return normalise({ ...v, [peer]: (v[peer] ?? 0) + 1 });
}

export function merge(a: VersionVector, b: VersionVector): VersionVector {
  const out: Record<string, number> = { ...a };
  for (const [k, n] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, n);
  return normalise(out);
}

/** How `a` relates to `b`: 'before' means a happened before b (b dominates). */
export function compare(a: VersionVector, b: VersionVector): Ordering {
  let aBigger = false;
  let bBigger = false;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[k] ?? 0;
    const y = b[k] ?? 0;
    if (x > y) aBigger = true;
    else if (y > x) bBigger = true;
    if (aBigger && bBigger) return 'concurrent';
  }
  if (aBigger) return 'after';
  if (bBigger) return 'before';
  return 'equal';
}

/** True when `a` has seen everything `b` has (a >= b). */
export const dominates = (a: VersionVector, b: VersionVector): boolean => {
  const o = compare(a, b);
  return o === 'after' || o === 'equal';
};

export const isVersionVector = (x: unknown): x is VersionVector =>
  typeof x === 'object' &&
  x !== null &&
  !Array.isArray(x) &&
  Object.entries(x).every(([k, n]) => /^[0-9a-f]{16}$/.test(k) && Number.isSafeInteger(n) && (n as number) > 0);
