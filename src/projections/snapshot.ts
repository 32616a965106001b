/**
 * Serialised forms of the projections: the exact bytes the store persists per
 * key, and a canonical whole-state form used to compare a rebuild with the
 * incrementally maintained state ("byte-equal when serialised").
 */
import { canonicalJson } from '../core/json.js';
import { initialState, projectionPrefixes, type Meta, type State } from './state.js';

export type ProjectionName = keyof typeof projectionPrefixes;
export const projectionNames = Object.keys(projectionPrefixes) as ProjectionName[];

/** The stored value for a dirty key, or undefined when the key was removed. */
export function valueForKey(s: State, key: string): string | undefined {
  if (key === 'm') return JSON.stringify(s.meta);
  for (const name of projectionNames) {
    const prefix = projectionPrefixes[name];
    if (key.startsWith(prefix)) {
      const v = s[name].get(key.slice(prefix.length));
      return v === undefined ? undefined : JSON.stringify(v);
    }
  }
  throw new Error(`unknown projection key ${key}`);
}

/** Rebuild a State from stored key/value pairs (the inverse of valueForKey). */
export function stateFromEntries(entries: Iterable<[string, string]>): State {
  const s = initialState();
  for (const [key, value] of entries) {
    if (key === 'm') {
      s.meta = JSON.parse(value) as Meta;
      continue;
    }
    const name = projectionNames.find((n) => key.startsWith(projectionPrefixes[n]));
    if (name === undefined) throw new Error(`unknown projection key ${key}`);
    (s[name] as Map<string, unknown>).set(key.slice(projectionPrefixes[name].length), JSON.parse(value));
  }
  return s;
}

/** Canonical text of the whole state: equal states give equal strings. */
export function serialiseState(s: State): string {
  return canonicalJson({ meta: s.meta, files: s.files, peers: s.peers, conflicts: s.conflicts, transfers: s.transfers });
}

/** The first difference between two states, for `replay` to name; null when equal. */
export function firstDifference(a: State, b: State): string | null {
  const ma = canonicalJson(a.meta);
  const mb = canonicalJson(b.meta);
  if (ma !== mb) return `meta differs: ${ma} vs ${mb}`;
  for (const name of projectionNames) {
    const x = a[name] as Map<string, unknown>;
    const y = b[name] as Map<string, unknown>;
    const keys = [...new Set([...x.keys(), ...y.keys()])].sort();
    for (const k of keys) {
      const vx = x.has(k) ? canonicalJson(x.get(k)) : '(absent)';
      const vy = y.has(k) ? canonicalJson(y.get(k)) : '(absent)';
      if (vx !== vy) return `${name}[${JSON.stringify(k)}] differs: ${vx} vs ${vy}`;
    }
  }
  return null;
}
