/**
 * ploppy as a benchmarked tool: two daemons in the run's namespace, through
 * the real CLI (bin/ploppy.js), each with its own --home, a network secret
 * (so the peers talk TLS 1.3, as Syncthing does) and 127.0.0.1 only.
 *
 * prepare() makes the pair the way a user would (`create` on A with its
 * folder still empty, `join` on B through A's address), waits until each
 * knows the other, and stops both. start() then launches the two daemons in
 * the foreground as our children (`ploppy start`, with the node flags and
 * environment `--detach` uses), so the clock covers their start-up and their
 * pids are ours to measure and stop.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { networkPaths } from '../../src/cli/home.js';
import { callControl } from '../../src/daemon/control.js';
import { daemonEnv, daemonNodeFlags } from '../../src/daemon/launch.js';
import type { NetworkRow } from '../../src/projections/views.js';
import type { DaemonTool, Pair, RunDirs } from './measure.js';
import { exited, runChecked, startProcess, stopProcess } from './system.js';

const bin = fileURLToPath(new URL('../../bin/ploppy.js', import.meta.url));
const network = 'bench';
const secret = 'ploppy-bench-secret';

/**
 * Compile src/ to dist/ (tsc -p tsconfig.build.json; incremental, so quick when
 * little changed). Type errors elsewhere in the tree do not stop the emit.
 */
export function buildPloppy(log: (line: string) => void): void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { encoding: 'utf8', cwd: root });
  if (r.status !== 0) log(`tsc reported problems (the build is used anyway):\n${(r.stdout + r.stderr).split('\n').slice(0, 10).join('\n')}`);
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) throw new Error('the build wrote no dist/src/cli/main.js');
}

export interface PloppyOptions {
  /** Run the TypeScript sources through tsx instead of the compiled build. */
  readonly fromSource?: boolean;
  /** Write a V8 CPU profile of each daemon into this directory (node --cpu-prof). */
  readonly profileDir?: string;
  /** Extra node flags for the daemons. */
  readonly nodeFlags?: readonly string[];
}

const homes = (run: RunDirs): [string, string] => [join(run.root, 'home-a'), join(run.root, 'home-b')];

const buildEnv = (o: PloppyOptions): NodeJS.ProcessEnv => (o.fromSource === true ? { PLOPPY_FROM_SOURCE: '1' } : { PLOPPY_USE_BUILD: '1' });

function cli(run: RunDirs, o: PloppyOptions, args: readonly string[]): { address: string; pid: number } {
  const out = runChecked(process.execPath, [bin, ...args, '--json'], { prefix: run.ns.prefix, timeoutMs: 60_000, env: buildEnv(o) });
  return JSON.parse(out.trim().split('\n').pop() as string) as { address: string; pid: number };
}

async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(`/proc/${pid}`)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      return;
    }
    await sleep(50);
  }
}

/** Until `home`'s daemon lists another peer as directly reachable. */
async function waitKnowsPeer(home: string, timeoutMs: number): Promise<void> {
  const socket = networkPaths(home, network).socket;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = (await callControl(socket, { op: 'network' })) as NetworkRow[];
    if (rows.some((r) => !r.self && r.reachability === 'direct')) return;
    if (Date.now() > deadline) throw new Error(`ploppy peers in ${home} did not meet within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

function logTail(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').slice(-12).join('\n') : '(no log)';
}

export function ploppyTool(options: PloppyOptions = {}): DaemonTool {
  return {
    name: 'ploppy',
    kind: 'daemon',
    unavailable: () => null,

    async prepare(run) {
      const [homeA, homeB] = homes(run);
      const a = cli(run, options, ['create', '--name', network, '--dir', run.a, '--home', homeA, '--listen', '127.0.0.1:0', '--secret', secret, '--detach']);
      const b = cli(run, options, ['join', '--name', network, '--peer', a.address, '--dir', run.b, '--home', homeB, '--listen', '127.0.0.1:0', '--secret', secret, '--detach']);
      try {
        await waitKnowsPeer(homeA, 30_000);
        await waitKnowsPeer(homeB, 30_000);
      } finally {
        for (const pid of [a.pid, b.pid]) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            /* gone */
          }
        }
        await Promise.all([waitGone(a.pid, 20_000), waitGone(b.pid, 20_000)]);
      }
    },

    async start(run) {
      // Not through NODE_OPTIONS: node refuses --cpu-prof there.
      const profile = options.profileDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
      const logs = [join(run.root, 'ploppy-a.log'), join(run.root, 'ploppy-b.log')] as const;
      const launch = (home: string, logFile: string): ChildProcess =>
        startProcess(process.execPath, [...profile, ...daemonNodeFlags, ...(options.nodeFlags ?? []), bin, 'start', '--name', network, '--home', home], {
          prefix: run.ns.prefix, logFile, env: daemonEnv(buildEnv(options)),
        });
      const [homeA, homeB] = homes(run);
      const children = [launch(homeA, logs[0]), launch(homeB, logs[1])] as const;
      const pair: Pair = {
        roots: [children[0].pid as number, children[1].pid as number],
        alive() {
          for (const [i, child] of children.entries()) {
            if (exited(child)) return `ploppy daemon ${i === 0 ? 'A' : 'B'} exited (${child.exitCode ?? child.signalCode}):\n${logTail(logs[i] as string)}`;
          }
          return null;
        },
        async stop() {
          await Promise.all(children.map((c) => stopProcess(c)));
        },
      };
      return pair;
    },
  };
}
