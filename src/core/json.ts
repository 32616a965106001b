/**
 * Canonical JSON: object keys sorted, no whitespace. Used wherever bytes must be
 * equal for equal values (projection snapshots, hashes, trace hashes).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (value instanceof Map) {
    return [...value.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, sortKeys(v)]);
  }
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Depth of nested arrays/objects; a scalar has depth 0. */
export function jsonDepth(value: unknown, limit = Infinity): number {
  if (value === null || typeof value !== 'object') return 0;
  if (limit <= 0) return 1;
  let max = 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  for (const c of children) {
    const d = jsonDepth(c, limit - 1);
    if (d > max) max = d;
  }
  return max + 1;
}
