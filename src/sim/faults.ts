/**
 * Recurring faults for the safety phase. Each enabled fault fires at random
 * (exponential gaps with the knob's mean), does its damage, schedules its own
 * end, and schedules its next occurrence. Faults that are per-packet rules
 * (drop, delay, reorder, duplicate, corrupt) live in the network instead, and
 * clock skew is fixed per peer when the world is built.
 *
 * Hostile peers: a connected neighbour sends something a correct peer never
 * would (requests for blocks nobody has, answers nobody asked for, reports of
 * peers that do not exist, frames that fail validation). The receiver must
 * neither throw nor let it damage the trees.
 */
import { validateMessage, type WireMessage } from '../events/messages.js';
import { isPloppyError } from '../core/errors.js';
import type { BlockHash } from '../core/ids.js';
import { uuidV4 } from './ids.js';
import { hasFault, type FaultName } from './knobs.js';
import type { SimPeer } from './peer.js';
import type { World } from './world.js';

type Recurring = Extract<FaultName, 'partition' | 'asym-partition' | 'clog' | 'crash' | 'pause' | 'disk-full' | 'hostile'>;

const everyMs = (w: World, f: Recurring): number => {
  const r = w.knobs.rates;
  switch (f) {
    case 'partition':
    case 'asym-partition': return r.partitionEveryMs;
    case 'clog': return r.clogEveryMs;
    case 'crash': return r.crashEveryMs;
    case 'pause': return r.pauseEveryMs;
    case 'disk-full': return r.diskFullEveryMs;
    case 'hostile': return r.hostileEveryMs;
  }
};

const recurring: readonly Recurring[] = ['partition', 'asym-partition', 'clog', 'crash', 'pause', 'disk-full', 'hostile'];

export function scheduleFaults(w: World): void {
  for (const f of recurring) if (hasFault(w.knobs, f)) scheduleNext(w, f);
}

function scheduleNext(w: World, f: Recurring): void {
  w.schedule(w.nowMs + w.expDelay(everyMs(w, f)), {
    kind: 'fault',
    run: () => {
      if (w.phase !== 'safety') return;
      strike(w, f);
      scheduleNext(w, f);
    },
  });
}

const upTo = (w: World, maxMs: number): number => 1 + w.rng.faults.int(maxMs);

function strike(w: World, f: Recurring): void {
  switch (f) {
    case 'partition': return partition(w, false);
    case 'asym-partition': return partition(w, true);
    case 'clog': return clog(w);
    case 'crash': return crash(w);
    case 'pause': return pause(w);
    case 'disk-full': return diskFull(w);
    case 'hostile': return hostile(w);
  }
}

/** Split the peers in two; a one-way partition blocks only one direction. */
function partition(w: World, oneWay: boolean): void {
  const net = w.network.partition;
  if (net.active) return;
  const n = w.peers.length;
  const side = w.peers.map(() => w.rng.faults.chance(0.5));
  if (side.every((s) => s) || side.every((s) => !s)) side[w.rng.faults.int(n)] = !side[0];
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (side[a] && !side[b]) (net.block(a, b), oneWay || net.block(b, a));
  w.stats.partitions++;
  const forMs = upTo(w, w.knobs.rates.partitionMsMax);
  w.trace.add(`${w.nowMs} ${oneWay ? 'one-way ' : ''}partition {${side.map((s, i) => (s ? `p${i}` : '')).filter(Boolean).join(',')}} for ${forMs}ms`);
  w.schedule(w.nowMs + forMs, { kind: 'fault', run: () => heal(w) });
}

function heal(w: World): void {
  if (w.phase !== 'safety') return;
  w.network.partition.healAll();
  w.trace.add(`${w.nowMs} partition healed`);
  for (const d of w.network.release(w.nowMs)) w.schedule(d.atMs, { kind: 'deliver', packet: d.packet });
  for (const [a, b] of w.edges) if (!w.network.isUp(a, b)) w.scheduleConnect(a, b, 1);
}

function clog(w: World): void {
  const [a, b] = w.rng.faults.pick(w.edges);
  const [from, to] = w.rng.faults.chance(0.5) ? [a, b] : [b, a];
  const forMs = upTo(w, w.knobs.rates.clogMsMax);
  w.network.clogs.clog(from, to, w.nowMs + forMs);
  w.trace.add(`${w.nowMs} clog p${from}->p${to} for ${forMs}ms`);
}

function crash(w: World): void {
  const alive = w.peers.filter((p) => p.alive);
  if (alive.length === 0) return;
  const p = w.rng.faults.pick(alive);
  const downMs = upTo(w, w.knobs.rates.crashDownMsMax);
  const restart = (): Promise<void> | void => (w.phase === 'safety' ? w.restart(p) : undefined);
  if (w.rng.faults.chance(w.knobs.rates.crashMidOutput)) {
    // Crash inside the next handle() call that has outputs: between a log write and its flush, or between effects.
    p.crashAfterOutputs = w.rng.faults.int(4);
    w.trace.add(`${w.nowMs} p${p.index} will crash after ${p.crashAfterOutputs} outputs of a step`);
    w.schedule(w.nowMs + downMs, { kind: 'fault', run: () => (p.alive ? undefined : restart()) });
    return;
  }
  w.crash(p, 'power loss');
  w.schedule(w.nowMs + downMs, { kind: 'fault', run: restart });
}

function pause(w: World): void {
  const running = w.peers.filter((p) => p.running && !p.paused);
  if (running.length === 0) return;
  w.pause(w.rng.faults.pick(running), upTo(w, w.knobs.rates.pauseMsMax));
}

function diskFull(w: World): void {
  const p = w.rng.faults.pick(w.peers);
  if (p.disk.full) return;
  const forMs = upTo(w, w.knobs.rates.diskFullMsMax);
  p.disk.full = true;
  w.trace.add(`${w.nowMs} disk full on p${p.index} for ${forMs}ms`);
  w.schedule(w.nowMs + forMs, { kind: 'fault', run: () => void (p.disk.full = false) });
}

// ------------------------------------------------------------ hostile peers

const randomHash = (w: World): BlockHash =>
  [...w.rng.hostile.bytes(32)].map((b) => b.toString(16).padStart(2, '0')).join('') as BlockHash;

/** A neighbour misbehaves once towards a peer it is connected to. */
function hostile(w: World): void {
  const up = w.edges.filter(([a, b]) => w.network.isUp(a, b));
  if (up.length === 0) return;
  const [x, y] = w.rng.hostile.pick(up);
  const [from, to] = w.rng.hostile.chance(0.5) ? [x, y] : [y, x];
  const sender = w.peers[from] as SimPeer;
  const target = w.peers[to] as SimPeer;
  const payload = hostilePayload(w, sender, target);
  w.stats.hostile++;
  let msg: WireMessage;
  try {
    msg = validateMessage(payload.cmd, payload.json, payload.data);
  } catch (e) {
    // The session refuses the frame and closes the connection; the engine never sees it.
    if (!isPloppyError(e)) w.violate('integrity', `validateMessage threw a non-PloppyError on hostile ${payload.cmd}: ${String(e)}`);
    w.trace.add(`${w.nowMs} hostile p${from}->p${to} ${payload.cmd} refused by the session`);
    w.breakLink(from, to, 'peer sent a bad frame');
    return;
  }
  w.trace.add(`${w.nowMs} hostile p${from}->p${to} ${payload.cmd}`);
  w.feed(target, { input: { kind: 'received', from: sender.id, msg } });
}

interface RawPayload {
  readonly cmd: string;
  readonly json: unknown;
  readonly data?: Uint8Array;
}

function hostilePayload(w: World, sender: SimPeer, target: SimPeer): RawPayload {
  const r = w.rng.hostile;
  const id = uuidV4(r);
  switch (r.int(8)) {
    case 0: return { cmd: 'IWANT', json: { id, hashes: [randomHash(w), randomHash(w)] } };
    case 1: return { cmd: 'DONTHAVE', json: { id, hashes: [randomHash(w)] } };
    case 2: return { cmd: 'ICANTSEE', json: { id, via: sender.id, uuid: r.chance(0.5) ? target.id : '00000000000000ff' } };
    case 3: return { cmd: 'IKNOWABOUT', json: { id, via: sender.id, peer: { name: 'ghost', uuid: '0123456789abcdef', address: '192.0.2.1:9' } } };
    case 4: return { cmd: 'IHAVE', json: { id, files: [{ path: '../escape', type: 'file' }], upTo: 1 } };
    case 5: return { cmd: 'LIST', json: { id, since: r.chance(0.5) ? 2 ** 40 : -1 } };
    case 6: return { cmd: 'PING', json: { id } };
    default: return { cmd: 'IWANT', json: { id, hashes: Array.from({ length: 300 }, () => randomHash(w)) } };
  }
}
