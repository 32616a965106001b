/**
 * End-to-end helpers: real `ploppy` processes (through bin/ploppy.js), real
 * LevelDB homes and real folders in temp dirs, loopback sockets only.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const bin = fileURLToPath(new URL('../../bin/ploppy.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion. `prefix` runs it under another command (e.g. `ip netns exec NS`). */
export function cli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; prefix?: readonly string[]; timeoutMs?: number } = {}): Promise<CliResult> {
  const prefix = options.prefix ?? [];
  const [cmd, ...rest] = prefix.length > 0 ? [...prefix, process.execPath, bin, ...args] : [process.execPath, bin, ...args];
  return new Promise((resolve) => {
    execFile(cmd as string, rest, { env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

export const tempDir = (label: string): string => mkdtempSync(join(tmpdir(), `ploppy-e2e-${label}-`));

export interface Peer {
  readonly label: string;
  readonly home: string;
  readonly dir: string;
  address: string;
  pid: number;
  readonly prefix: readonly string[];
}

export async function run(peer: Peer, args: readonly string[]): Promise<CliResult> {
  return cli([...args, '--home', peer.home, '--name', 'net'], { prefix: peer.prefix });
}

export async function runJson<T>(peer: Peer, args: readonly string[]): Promise<T> {
  const r = await run(peer, [...args, '--json']);
  if (r.code !== 0) throw new Error(`ploppy ${args.join(' ')} on ${peer.label} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

function started(peer: Peer, r: CliResult, what: string): Peer {
  if (r.code !== 0) throw new Error(`${what} on ${peer.label} failed (${r.code}): ${r.stderr}${r.stdout}`);
  const info = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { address: string; pid: number };
  peer.address = info.address;
  peer.pid = info.pid;
  return peer;
}

export const e2eSecret = 'e2e-network-secret';

export interface PeerOptions {
  readonly listen?: string;
  /** Default e2eSecret; null runs without a secret argument (create generates one). */
  readonly secret?: string | null;
  readonly prefix?: readonly string[];
}

const secretArgs = (o: PeerOptions): string[] => (o.secret === null ? [] : ['--secret', o.secret ?? e2eSecret]);

export async function createPeer(label: string, options: PeerOptions = {}): Promise<Peer> {
  const peer: Peer = { label, home: tempDir(`${label}-home`), dir: join(tempDir(`${label}-dir`), 'shared'), address: '', pid: 0, prefix: options.prefix ?? [] };
  const r = await cli(
    ['create', '--name', 'net', '--dir', peer.dir, '--home', peer.home, '--listen', options.listen ?? '127.0.0.1:0', '--detach', '--json',
      ...secretArgs(options)],
    { prefix: peer.prefix },
  );
  return started(peer, r, 'create');
}

export async function joinPeer(label: string, via: Peer, options: PeerOptions = {}): Promise<Peer> {
  const peer: Peer = { label, home: tempDir(`${label}-home`), dir: join(tempDir(`${label}-dir`), 'shared'), address: '', pid: 0, prefix: options.prefix ?? [] };
  const r = await cli(
    ['join', '--name', 'net', '--peer', via.address, '--dir', peer.dir, '--home', peer.home, '--listen', options.listen ?? '127.0.0.1:0', '--detach', '--json',
      ...secretArgs(options)],
    { prefix: peer.prefix },
  );
  return started(peer, r, 'join');
}

export async function startPeer(peer: Peer): Promise<Peer> {
  return started(peer, await run(peer, ['start', '--detach', '--json']), 'start');
}

export async function stopPeer(peer: Peer): Promise<void> {
  await run(peer, ['stop']);
  await waitFor(`${peer.label} to stop`, () => !alive(peer.pid), 20_000);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function kill9(peer: Peer): void {
  process.kill(peer.pid, 'SIGKILL');
}

export async function cleanup(peers: readonly Peer[]): Promise<void> {
  for (const p of peers) {
    if (p.pid > 0 && alive(p.pid)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  if (process.env.PLOPPY_KEEP_E2E === undefined) {
    for (const p of peers) {
      rmSync(p.home, { recursive: true, force: true });
      rmSync(join(p.dir, '..'), { recursive: true, force: true });
    }
  }
}

/**
 * Poll until `check` holds; a timeout fails the test with `what` (tests never
 * assert on time), and with what `explain` says (see describePeers) so that a
 * failure in CI can be understood from its output alone.
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000, explain?: () => string | Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      const detail = explain === undefined ? '' : `\n${await Promise.resolve().then(explain).catch((e: unknown) => `(could not describe: ${String(e)})`)}`;
      throw new Error(`timed out waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Each peer's tree, `status` and the tail of its daemon.log: what a timed-out wait prints. */
export async function describePeers(peers: readonly Peer[]): Promise<string> {
  const parts: string[] = [];
  for (const p of peers) {
    let tree: string;
    try {
      tree = treeDigest(p.dir);
    } catch (e) {
      tree = `(unreadable: ${String(e)})`;
    }
    const status = await run(p, ['status']);
    const logFile = join(p.home, 'networks', 'net', 'daemon.log');
    const logTail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n') : '(no daemon.log)';
    parts.push(`--- ${p.label} (pid ${p.pid}, ${alive(p.pid) ? 'alive' : 'gone'}) ${p.address}`, `tree:\n${tree}`,
      `status (exit ${status.code}):\n${status.stdout}${status.stderr}`, `daemon.log tail:\n${logTail}`);
  }
  return parts.join('\n');
}

/**
 * A tree as text: each entry's path, type, owner mode bits and content hash
 * (symlink target for links), sorted. Equal text = identical trees.
 */
export function treeDigest(dir: string): string {
  const lines: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      if (name.startsWith('.ploppy-tmp-')) continue;
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(dir, r));
      const mode = (st.mode >> 6) & 7;
      if (st.isSymbolicLink()) lines.push(`${r} link ${readlinkSync(join(dir, r))}`);
      else if (st.isDirectory()) {
        lines.push(`${r}/ dir ${mode}`);
        walk(r);
      } else lines.push(`${r} file ${mode} ${createHash('sha256').update(readFileSync(join(dir, r))).digest('hex')}`);
    }
  };
  walk('');
  return lines.join('\n');
}

/** False while any tree is changing under the walk (a file vanished between readdir and lstat). */
export function treesEqual(peers: readonly Peer[]): boolean {
  try {
    const [first, ...rest] = peers.map((p) => treeDigest(p.dir));
    return rest.every((t) => t === first);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

export const hasCommand = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
