/**
 * Golden files: the exact text or JSON an audit command gives for a scripted
 * scenario, kept under test/unit/audit/golden/. A difference fails the test
 * with both texts; `UPDATE_GOLDEN=1` rewrites the files (review the diff).
 * UUIDs (message and event ids) are replaced by their order of appearance,
 * since the engine harness numbers them across the whole test run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'golden');

export function normaliseIds(text: string): string {
  const seen = new Map<string, string>();
  return text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => {
    let name = seen.get(id);
    if (name === undefined) {
      name = `<id${seen.size + 1}>`;
      seen.set(id, name);
    }
    return name;
  });
}

export function golden(name: string, actual: string): void {
  const file = join(dir, name);
  const text = normaliseIds(actual.endsWith('\n') ? actual : `${actual}\n`);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.UPDATE_GOLDEN !== '1') assert.fail(`golden file ${name} is missing; run with UPDATE_GOLDEN=1 to create it, then review it`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  assert.equal(text, readFileSync(file, 'utf8'), `${name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)`);
}
