/**
 * `ploppy sim` as a command module: arguments, JSON output, exit codes. Runs
 * the module in a child process (it sets process.exitCode) under a minimal
 * yargs harness, so it does not depend on the command list in main.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const harness =
  "import yargs from 'yargs'; import sim from './src/cli/commands/sim.ts'; " +
  'await yargs(process.argv.slice(1)).command(sim).strict().fail((m) => { console.error(m); process.exit(2); }).parseAsync();';

function ploppySim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', harness, '--', 'sim', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('sim --json prints one verdict per run; the exit code says whether every invariant held', () => {
  const r = ploppySim('--seed', '7', '--peers', '3', '--steps', '300', '--faults', 'none', '--json');
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  const v = JSON.parse(lines[0] as string) as { ok: boolean; seed: number; knobs: { peers: number; faults: string[] }; traceHash: string; replay: string };
  assert.equal(v.seed, 7);
  assert.equal(v.knobs.peers, 3);
  assert.deepEqual(v.knobs.faults, []);
  assert.match(v.replay, /^npx ploppy sim --seed 7 --peers 3 --steps 300 --topology \w+ --faults none$/);
  assert.equal(r.status, v.ok ? 0 : 1);
  const again = JSON.parse(ploppySim('--seed', '7', '--peers', '3', '--steps', '300', '--faults', 'none', '--json').stdout.trim()) as { traceHash: string };
  assert.equal(again.traceHash, v.traceHash, 'same arguments, same run');
});

test('text output starts with SEED= and the knobs', () => {
  const r = ploppySim('--seed', '8', '--peers', '3', '--steps', '200', '--faults', 'none');
  assert.match(r.stdout, /^SEED=8 peers=3 steps=200 topology=\w+ faults=none /);
  assert.match(r.stdout, /\n(PASS|FAIL) /);
});

test('an unknown fault is a usage error', () => {
  const r = ploppySim('--seed', '1', '--faults', 'meteor');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown fault "meteor"/);
});
