/**
 * `npm run bench -- log [--events N] [--inflight W] [--paths P] [--verify] [--json]`
 *
 * The event store at the scale of a busy peer: a fresh LevelEventLog in a temp
 * directory takes N realistic events (a mix of local edits, received IHAVEs,
 * accepted versions, verified blocks, committed files, pings and peer
 * lifecycle) through the real write() path, with W writes in flight so group
 * commit does its job. Then it measures a cold start (open + loadState), a
 * full replay (read and fold the whole log from empty, checked against the
 * stored projections) and the peak RSS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Hlc } from '../src/core/hlc.js';
import type { BlockHash, MessageId, PeerId } from '../src/core/ids.js';
import type { SyncPath } from '../src/core/path.js';
import { seededRng, type Rng } from '../src/core/rng.js';
import type { Event, LocalObservation } from '../src/events/types.js';
import type { FileVersion } from '../src/events/version.js';
import { firstDifference } from '../src/projections/snapshot.js';
import { initialState, type State } from '../src/projections/state.js';
import { appendEvents, stampEvents } from '../src/store/append.js';
import { LevelEventLog } from '../src/store/level-event-log.js';
import { nodeIds } from '../src/store/node-ports.js';
import { rebuild, stateDigest } from '../src/store/replay.js';

interface Options {
  readonly events: number;
  readonly inflight: number;
  readonly paths: number;
  readonly peers: number;
  readonly seed: number;
  readonly verify: boolean;
  readonly json: boolean;
  readonly dir: string | undefined;
}

export function parse(args: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...args],
    options: {
      events: { type: 'string', default: '1000000' },
      inflight: { type: 'string', default: '1024' },
      paths: { type: 'string', default: '20000' },
      peers: { type: 'string', default: '8' },
      seed: { type: 'string', default: '1' },
      verify: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      dir: { type: 'string' },
    },
  });
  const int = (s: string, what: string): number => {
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${what} must be a positive integer`);
    return n;
  };
  return {
    events: int(values.events, 'events'),
    inflight: int(values.inflight, 'inflight'),
    paths: int(values.paths, 'paths'),
    peers: int(values.peers, 'peers'),
    seed: int(values.seed, 'seed'),
    verify: values.verify,
    json: values.json,
    dir: values.dir,
  };
}

// ------------------------------------------------------------ the workload

const hex = (rng: Rng, bytes: number): string => Buffer.from(rng.bytes(bytes)).toString('hex');

/**
 * What a peer's engine appends, one write per handled input: mostly file
 * traffic (each remote update is IHAVE + accept, a few verified blocks, a
 * commit), with pings, timers, scans and peers coming and going.
 */
export class Workload {
  private readonly rng: Rng;
  private readonly paths: SyncPath[];
  private readonly peers: PeerId[];
  private readonly hashes: BlockHash[];
  private readonly counters = new Map<string, number>();
  /** Remote updates in progress: the writes still to come. */
  private readonly followUps: Event[][] = [];
  nowMs = 1_700_000_000_000;

  constructor(readonly self: PeerId, o: Options) {
    this.rng = seededRng(o.seed);
    // Round-tripped through JSON so they are flat strings, as paths read from disk or the wire are
    // (a template literal builds a rope, which every later stringify has to walk).
    const names = Array.from({ length: o.paths }, (_, i) => `docs/project-${i % 97}/section-${i % 13}/file-${i}.txt`);
    this.paths = JSON.parse(JSON.stringify(names)) as SyncPath[];
    this.peers = Array.from({ length: o.peers }, () => hex(this.rng, 8) as PeerId);
    this.hashes = Array.from({ length: 4096 }, () => hex(this.rng, 32) as BlockHash);
  }

  first(): Event[] {
    return [{ type: 'NetworkCreated', data: { networkId: hex(this.rng, 16), name: 'bench', peer: this.self, dir: '/srv/share' } }];
  }

  next(): Event[] {
    this.nowMs += this.rng.int(3);
    const queued = this.followUps.length > 0 && this.rng.chance(0.6) ? this.followUps.shift() : undefined;
    if (queued !== undefined) return queued;
    const r = this.rng.next();
    if (r < 0.3) return [{ type: 'LocalFileChanged', data: this.observation(this.path()) }];
    if (r < 0.55) return this.remoteUpdate();
    if (r < 0.75) return [this.received({ cmd: 'PING', id: nodeIds.messageId() })];
    if (r < 0.9) return [{ type: 'TimerFired', data: { timer: `ping:${this.peer()}` } }];
    if (r < 0.97) return [{ type: 'PeerConnected', data: { peer: this.peer(), address: `10.0.0.${this.rng.int(250)}:7400`, direction: 'in' } }];
    if (r < 0.99) return [{ type: 'PeerDisconnected', data: { peer: this.peer(), reason: 'timeout' } }];
    return [{ type: 'ScanFinished', data: { files: this.paths.length, bytes: this.rng.int(1e12) } }];
  }

  private remoteUpdate(): Event[] {
    const from = this.peer();
    const version = this.version(from);
    const message = nodeIds.messageId();
    for (const hash of version.blocks) {
      this.followUps.push([{ type: 'BlockVerified', data: { path: version.path, hash, from, size: 131072 } }]);
    }
    this.followUps.push([{ type: 'FileCommitted', data: { path: version.path, version } }]);
    return [
      this.received({ cmd: 'IHAVE', id: message, files: [version], upTo: this.rng.int(1e6) }, from),
      { type: 'VersionAccepted', data: { path: version.path, version, from, message } },
    ];
  }

  private version(author: PeerId): FileVersion {
    const path = this.path();
    const counter = (this.counters.get(path) ?? 0) + 1;
    this.counters.set(path, counter);
    const hlc: Hlc = { wallMs: this.nowMs, counter: 0 };
    const o = this.observation(path);
    const vv: Record<string, number> = {};
    vv[author] = counter;
    return {
      path, type: o.type, mode: o.mode, size: o.size, mtimeMs: o.mtimeMs, blockSizeBytes: o.blockSizeBytes, blocks: o.blocks,
      deleted: false, vv, hlc, author,
    };
  }

  /** A file of one to four 128 KiB blocks, as a scan would see it. */
  private observation(path: SyncPath): LocalObservation {
    const blocks: BlockHash[] = [];
    for (let n = 1 + this.rng.int(4); n > 0; n--) blocks.push(this.rng.pick(this.hashes));
    const size = blocks.length * 131072 - this.rng.int(131072);
    return { path, type: 'file', mode: 6, size, mtimeMs: this.nowMs, blockSizeBytes: 131072, blocks };
  }

  private received(message: Extract<Event, { type: 'MessageReceived' }>['data']['message'], from = this.peer()): Event {
    return { type: 'MessageReceived', data: { from, message } };
  }

  private path = (): SyncPath => this.rng.pick(this.paths);
  private peer = (): PeerId => this.rng.pick(this.peers);
}

// ------------------------------------------------------------ phases

export async function append(dir: string, o: Options): Promise<{ state: State; seconds: number; batches: number }> {
  const log = await LevelEventLog.open(dir);
  const state = initialState();
  const self = 'a0b1c2d3e4f50617' as PeerId;
  const workload = new Workload(self, o);
  const inFlight: Promise<unknown>[] = [];
  const started = performance.now();
  let events = workload.first();
  while (log.head() < o.events) {
    const room = o.events - log.head();
    const stamped = stampEvents(log.head(), state.meta.hlc, events.length > room ? events.slice(0, room) : events, {
      peer: self,
      nowMs: workload.nowMs,
      ids: nodeIds,
    });
    inFlight.push(appendEvents(log, state, stamped));
    if (inFlight.length >= o.inflight) await inFlight.shift();
    events = workload.next();
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  const batches = log.batches;
  await log.close();
  return { state, seconds, batches };
}

async function coldStart(dir: string): Promise<{ log: LevelEventLog; state: State; ms: number }> {
  const started = performance.now();
  const log = await LevelEventLog.open(dir);
  const state = await log.loadState();
  return { log, state, ms: performance.now() - started };
}

/**
 * Append, then start cold and compare with the state the appender kept. The
 * comparisons go through digests (stateDigest), so one state is alive at a
 * time, as in a daemon or `ploppy replay` (peak RSS is one of the
 * measurements, and two copies of the state held for the check were the
 * benchmark's own cost).
 */
async function appendThenColdStart(dir: string, o: Options) {
  const appended = await append(dir, o);
  const appendedDigest = stateDigest(appended.state);
  const { batches, seconds } = appended;
  appended.state = initialState(); // let the appender's state go before the cold start
  const cold = await coldStart(dir);
  const coldDigest = stateDigest(cold.state);
  const difference = coldDigest === appendedDigest ? null : `the cold-started state differs from the appender's (digest ${coldDigest} vs ${appendedDigest})`;
  return { batches, appendSeconds: seconds, cold: { log: cold.log, ms: cold.ms, digest: coldDigest }, difference };
}

/** The replay `ploppy replay` runs: read and decode every record, fold from empty. */
async function replay(log: LevelEventLog): Promise<{ state: State; seconds: number }> {
  const started = performance.now();
  const state = await rebuild(log);
  return { state, seconds: (performance.now() - started) / 1000 };
}

// ------------------------------------------------------------ report

export async function run(args: readonly string[]): Promise<void> {
  const o = parse(args);
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'ploppy-bench-log-'));
  try {
    const { batches, appendSeconds, cold, difference } = await appendThenColdStart(dir, o);
    const differences = [difference];
    const replayed = await replay(cold.log);
    if (stateDigest(replayed.state) !== cold.digest) differences.push(firstDifference(await cold.log.loadState(), replayed.state) ?? 'the replayed state differs by digest');
    let verifyEventsPerSec: number | undefined;
    if (o.verify) {
      const started = performance.now();
      const result = await cold.log.verify();
      if (!result.ok) differences.push(`verify: ${result.message}`);
      verifyEventsPerSec = Math.round(o.events / ((performance.now() - started) / 1000));
    }
    await cold.log.close();
    const result = {
      events: o.events,
      batches,
      appendEventsPerSec: Math.round(o.events / appendSeconds),
      replayEventsPerSec: Math.round(o.events / replayed.seconds),
      coldStartMs: Math.round(cold.ms),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      ...(verifyEventsPerSec === undefined ? {} : { verifyEventsPerSec }),
      consistent: differences.every((d) => d === null),
    };
    printTable(result);
    for (const d of differences) if (d !== null) console.error(`INCONSISTENT: ${d}`);
    if (!result.consistent) process.exitCode = 1;
    if (o.json) console.log(JSON.stringify(result));
  } finally {
    if (o.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(result: Record<string, number | boolean>): void {
  const targets: Record<string, string> = {
    appendEventsPerSec: '>= 200000',
    replayEventsPerSec: '>= 300000',
    coldStartMs: '<= 1000',
    peakRssMb: '<= 400',
  };
  const rows = Object.entries(result).map(([k, v]) => [k, String(v), targets[k] ?? '']);
  const width = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 1 ? c.padStart(width[i] as number) : c.padEnd(width[i] as number))).join('  '));
}
