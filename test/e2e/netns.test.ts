/**
 * The three-peer scenario across network namespaces: each peer in its own
 * namespace, joined by veth pairs to a bridge that lives in a fourth namespace
 * (nothing is added to the host's own network), with netem loss and delay on
 * every link where the kernel has netem, and 1% loss by nftables where it
 * has not (no delay then: only netem delays). Where namespaces cannot be created
 * (not root, no iproute2) the test says so and is skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync, rmSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanup, createPeer, describePeers, hasCommand, joinPeer, treesEqual, waitFor, type Peer } from './helpers.js';

const tag = `pp${process.pid % 100000}`;
const sw = `${tag}sw`;
const hosts = ['a', 'b', 'c'] as const;
const ns = (h: string): string => `${tag}${h}`;
const ip = (i: number): string => `10.231.${(process.pid % 200) + 1}.${i + 1}`;

function sh(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

function must(args: string[]): void {
  const r = sh(args);
  if (!r.ok) throw new Error(`${args.join(' ')}: ${r.out}`);
}

function whyNoNamespaces(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!hasCommand('ip')) return 'iproute2 (ip) is not installed';
  const probe = sh(['ip', 'netns', 'add', `${tag}probe`]);
  if (!probe.ok) return `ip netns add failed: ${probe.out}`;
  sh(['ip', 'netns', 'del', `${tag}probe`]);
  return null;
}

const skipReason = whyNoNamespaces();
if (skipReason !== null) process.stdout.write(`# netns e2e skipped: ${skipReason}\n`);

/**
 * Loss on a host's link without netem: nftables drops 1% of the packets the
 * host sends, at random (`numgen random`). Returns why not, or null.
 */
function nftLoss(h: string): string | null {
  if (!hasCommand('nft')) return 'nft is not installed';
  const nft = (...args: string[]): { ok: boolean; out: string } => sh(['ip', 'netns', 'exec', ns(h), 'nft', ...args]);
  for (const r of [
    nft('add', 'table', 'inet', 'lossy'),
    nft('add', 'chain', 'inet', 'lossy', 'out', '{ type filter hook output priority 0; }'),
    nft('add', 'rule', 'inet', 'lossy', 'out', 'counter'),
    nft('add', 'rule', 'inet', 'lossy', 'out', 'numgen', 'random', 'mod', '100', '<', '1', 'counter', 'drop'),
  ]) if (!r.ok) return r.out;
  return null;
}

/** Build the namespaces; returns what impairs the links (netem where the kernel has it, else nftables loss). */
function buildNetwork(): string {
  must(['ip', 'netns', 'add', sw]);
  must(['ip', '-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  must(['ip', '-n', sw, 'link', 'set', 'br0', 'up']);
  let netem = 'netem loss 1% delay 5ms on every link';
  hosts.forEach((h, i) => {
    must(['ip', 'netns', 'add', ns(h)]);
    must(['ip', 'link', 'add', `${tag}${h}0`, 'netns', ns(h), 'type', 'veth', 'peer', 'name', `${tag}${h}1`, 'netns', sw]);
    must(['ip', '-n', ns(h), 'addr', 'add', `${ip(i)}/24`, 'dev', `${tag}${h}0`]);
    must(['ip', '-n', ns(h), 'link', 'set', `${tag}${h}0`, 'up']);
    must(['ip', '-n', ns(h), 'link', 'set', 'lo', 'up']);
    must(['ip', '-n', sw, 'link', 'set', `${tag}${h}1`, 'master', 'br0']);
    must(['ip', '-n', sw, 'link', 'set', `${tag}${h}1`, 'up']);
    const q = sh(['ip', 'netns', 'exec', ns(h), 'tc', 'qdisc', 'add', 'dev', `${tag}${h}0`, 'root', 'netem', 'loss', '1%', 'delay', '5ms']);
    if (q.ok) return;
    const noLoss = nftLoss(h);
    netem = noLoss === null
      ? `no netem on this kernel (${q.out}): nftables drops 1% of each host's packets; no added delay`
      : `no netem on this kernel (${q.out}) and no nftables loss (${noLoss}): links without loss or delay`;
  });
  return netem;
}

/** Packets the hosts sent through nftables, and how many of them it dropped. */
function nftCounts(): { sent: number; dropped: number } {
  const counts = { sent: 0, dropped: 0 };
  for (const h of hosts) {
    const r = sh(['ip', 'netns', 'exec', ns(h), 'nft', 'list', 'table', 'inet', 'lossy']);
    const [all, dropped] = [...r.out.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
    counts.sent += all ?? 0;
    counts.dropped += dropped ?? 0;
  }
  return counts;
}

function tearDown(): void {
  for (const h of hosts) sh(['ip', 'netns', 'del', ns(h)]);
  sh(['ip', 'netns', 'del', sw]);
}

describe('three peers across network namespaces', { timeout: 300_000, skip: skipReason ?? false }, () => {
  let a: Peer, b: Peer, c: Peer;
  const peers = (): Peer[] => [a, b, c];

  let impairment = '';

  before(async () => {
    impairment = buildNetwork();
    process.stdout.write(`# netns e2e: ${impairment}\n`);
    const prefix = (h: string): string[] => ['ip', 'netns', 'exec', ns(h)];
    a = await createPeer('na', { listen: `${ip(0)}:0`, prefix: prefix('a') });
    b = await joinPeer('nb', a, { listen: `${ip(1)}:0`, prefix: prefix('b') });
    c = await joinPeer('nc', b, { listen: `${ip(2)}:0`, prefix: prefix('c') });
  });
  after(async () => {
    await cleanup(peers().filter((p) => p !== undefined));
    tearDown();
  });

  it('converges files created on every peer, then edits, deletes and renames', async () => {
    assert.ok(a.address.startsWith(ip(0)), `A listens inside its namespace (${a.address})`);
    mkdirSync(join(a.dir, 'x/y'), { recursive: true });
    writeFileSync(join(a.dir, 'x/y/from-a.txt'), 'A\n');
    writeFileSync(join(b.dir, 'from-b.bin'), randomBytes(8 * 1024 * 1024));
    writeFileSync(join(c.dir, 'from c ✓.txt'), 'C\n');
    await waitFor('trees identical', () => treesEqual(peers()) && existsSync(join(a.dir, 'from c ✓.txt')) && existsSync(join(c.dir, 'x/y/from-a.txt')) && existsSync(join(c.dir, 'from-b.bin')), 60_000, () => describePeers(peers()));
    writeFileSync(join(c.dir, 'x/y/from-a.txt'), 'A, edited on C\n');
    rmSync(join(a.dir, 'from-b.bin'));
    renameSync(join(b.dir, 'from c ✓.txt'), join(b.dir, 'x/renamed.txt'));
    await waitFor('changes converge', () => treesEqual(peers()) && !existsSync(join(c.dir, 'from-b.bin')) && existsSync(join(a.dir, 'x/renamed.txt')), 60_000, () => describePeers(peers()));
    if (impairment.includes('nftables drops')) {
      const { sent, dropped } = nftCounts();
      process.stdout.write(`# netns e2e: nftables dropped ${dropped} of ${sent} packets\n`);
      // (Segmentation offload makes packets large and few; with 2,000 or more, none lost is a 1e-9 chance.)
      if (sent >= 2000) assert.ok(dropped > 0, 'the links really lost packets');
    }
  });
});
