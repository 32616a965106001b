/**
 * The simulated network: links between peers and packets on them, with
 * faults as data (turmoil's packet rules, TigerBeetle's VOPR).
 *
 * Theory of operation
 * - A link is one TCP connection between two peers of the topology. It has an
 *   epoch that changes every time it comes up, and a packet belongs to the
 *   epoch it was sent in: a packet still in flight when its connection dies is
 *   lost with it, never delivered on the next connection.
 * - Each packet runs through the rules in order. A rule may add delay,
 *   duplicate it, corrupt a block, hold it (a partition: TCP keeps
 *   retransmitting, so the bytes arrive when the partition heals, unless the
 *   connection is torn down first) or drop it. TCP never drops silently: a
 *   dropped packet resets its connection, and both ends see it close.
 * - Within a connection delivery is in order (TCP), except when the reorder
 *   rule is on: then packets overtake each other, and duplicates always may.
 *   The engine must cope with both because the protocol's (since, upTo]
 *   ranges never let a cursor jump over a message that has not arrived.
 * - In 'manual' mode (the model-based tests) packets wait in `pending` and a
 *   test command chooses which to deliver, drop or duplicate.
 */
import type { Rng } from '../core/rng.js';
import type { WireMessage } from '../events/messages.js';
import { edgeKey, type Edge } from './topology.js';

export interface Packet {
  readonly from: number;
  readonly to: number;
  readonly msg: WireMessage;
  readonly sentAtMs: number;
  /** The epoch of the connection it was sent on. */
  readonly epoch: number;
  /** A copy made by the duplicate rule (the original was delivered or is on its way). */
  readonly duplicate: boolean;
  /** The id the sender gave the message (a planted bug may rename a duplicate). */
  readonly originalId: string;
}

export type Verdict =
  | { readonly kind: 'pass' }
  | { readonly kind: 'deliver'; readonly delayMs: number; readonly unordered?: boolean }
  | { readonly kind: 'drop' }
  | { readonly kind: 'duplicate'; readonly delayMs: number }
  | { readonly kind: 'corrupt' }
  | { readonly kind: 'hold' };

/** A fault as data: looks at one packet and says what happens to it. */
export interface NetRule {
  readonly name: string;
  onPacket(p: Packet, rng: Rng, nowMs: number): Verdict;
}

// ------------------------------------------------------------------ rules

export const dropRule = (rate: number): NetRule => ({
  name: 'drop',
  onPacket: (_p, rng) => (rng.chance(rate) ? { kind: 'drop' } : { kind: 'pass' }),
});

export const delayRule = (rate: number, maxMs: number): NetRule => ({
  name: 'delay',
  onPacket: (_p, rng) => (rng.chance(rate) ? { kind: 'deliver', delayMs: rng.int(maxMs + 1) } : { kind: 'pass' }),
});

export const reorderRule = (spreadMs: number): NetRule => ({
  name: 'reorder',
  onPacket: (_p, rng) => ({ kind: 'deliver', delayMs: rng.int(spreadMs + 1), unordered: true }),
});

export const duplicateRule = (rate: number, maxDelayMs: number): NetRule => ({
  name: 'duplicate',
  onPacket: (p, rng) => (!p.duplicate && rng.chance(rate) ? { kind: 'duplicate', delayMs: rng.int(maxDelayMs + 1) } : { kind: 'pass' }),
});

export const corruptRule = (rate: number): NetRule => ({
  name: 'corrupt',
  onPacket: (p, rng) => (p.msg.cmd === 'HEREIS' && p.msg.data.byteLength > 0 && rng.chance(rate) ? { kind: 'corrupt' } : { kind: 'pass' }),
});

const dirKey = (from: number, to: number): string => `${from}>${to}`;

/** Symmetric and asymmetric partitions: blocked directions hold their packets until healed. */
export class PartitionRule implements NetRule {
  readonly name = 'partition';
  private readonly blocked = new Set<string>();

  block(from: number, to: number): void {
    this.blocked.add(dirKey(from, to));
  }

  isBlocked(from: number, to: number): boolean {
    return this.blocked.has(dirKey(from, to));
  }

  get active(): boolean {
    return this.blocked.size > 0;
  }

  healAll(): void {
    this.blocked.clear();
  }

  onPacket(p: Packet): Verdict {
    if (this.blocked.size === 0) return { kind: 'pass' };
    return this.blocked.has(dirKey(p.from, p.to)) ? { kind: 'hold' } : { kind: 'pass' };
  }
}

/** Clogging: a direction holds its packets until a known time (turmoil's hold/release). */
export class ClogRule implements NetRule {
  readonly name = 'clog';
  private readonly until = new Map<string, number>();

  clog(from: number, to: number, untilMs: number): void {
    this.until.set(dirKey(from, to), untilMs);
  }

  clear(): void {
    this.until.clear();
  }

  onPacket(p: Packet, _rng: Rng, nowMs: number): Verdict {
    if (this.until.size === 0) return { kind: 'pass' };
    const u = this.until.get(dirKey(p.from, p.to));
    return u !== undefined && u > nowMs ? { kind: 'deliver', delayMs: u - nowMs } : { kind: 'pass' };
  }
}

// ------------------------------------------------------------------ links

export interface Link {
  readonly a: number;
  readonly b: number;
  up: boolean;
  epoch: number;
  /** Last scheduled arrival per direction (index 0: a->b), for in-order delivery. */
  readonly lastArrivalMs: [number, number];
  /** Base one-way latency per direction. */
  readonly latencyMs: [number, number];
  /** Packets held by a partition, released when it heals. */
  held: Packet[];
}

export type SendResult =
  | { readonly kind: 'sent'; readonly deliveries: readonly { atMs: number; packet: Packet }[] }
  | { readonly kind: 'held' }
  | { readonly kind: 'noLink' }
  | { readonly kind: 'reset' };

export interface NetworkOptions {
  readonly latencyMsMin: number;
  readonly latencyMsMax: number;
  /** Told about every corrupted HEREIS (a planted bug uses it to forge the hash check). */
  readonly onCorrupt?: (original: Extract<WireMessage, { cmd: 'HEREIS' }>, corrupted: Uint8Array) => void;
}

export class Network {
  readonly links = new Map<string, Link>();
  /** The same links by pair of peers (a * size + b, both orders): looked up per packet, without building a key. */
  private readonly byPair: (Link | undefined)[] = [];
  private readonly size: number;
  rules: NetRule[] = [];
  readonly partition = new PartitionRule();
  readonly clogs = new ClogRule();

  constructor(
    edges: readonly Edge[],
    private readonly rng: Rng,
    private readonly options: NetworkOptions,
  ) {
    this.size = 1 + Math.max(0, ...edges.flat());
    for (const [a, b] of edges) {
      const lat = (): number => options.latencyMsMin + rng.int(options.latencyMsMax - options.latencyMsMin + 1);
      const link: Link = { a, b, up: false, epoch: 0, lastArrivalMs: [0, 0], latencyMs: [lat(), lat()], held: [] };
      this.links.set(edgeKey(a, b), link);
      this.byPair[a * this.size + b] = link;
      this.byPair[b * this.size + a] = link;
    }
  }

  link(a: number, b: number): Link | undefined {
    return a >= 0 && b >= 0 && a < this.size && b < this.size ? this.byPair[a * this.size + b] : undefined;
  }

  isUp(a: number, b: number): boolean {
    return this.link(a, b)?.up === true;
  }

  /** Can a connection be made now? (Both directions must pass for TCP's handshake.) */
  canConnect(a: number, b: number): boolean {
    const l = this.link(a, b);
    return l !== undefined && !l.up && !this.partition.isBlocked(a, b) && !this.partition.isBlocked(b, a);
  }

  bringUp(a: number, b: number): Link {
    const l = this.link(a, b) as Link;
    l.up = true;
    l.epoch++;
    l.held = [];
    return l;
  }

  /** The connection is gone: packets held for it die with it. Returns how many were held. */
  tearDown(a: number, b: number): number {
    const l = this.link(a, b);
    if (l === undefined || !l.up) return 0;
    l.up = false;
    const n = l.held.length;
    l.held = [];
    return n;
  }

  /** Is a packet still deliverable (its connection alive)? */
  current(p: Packet): boolean {
    const l = this.link(p.from, p.to);
    return l !== undefined && l.up && l.epoch === p.epoch;
  }

  send(from: number, to: number, msg: WireMessage, nowMs: number): SendResult {
    const l = this.link(from, to);
    if (l === undefined || !l.up) return { kind: 'noLink' };
    const packet: Packet = { from, to, msg, sentAtMs: nowMs, epoch: l.epoch, duplicate: false, originalId: msg.id };
    return this.route(l, packet, nowMs);
  }

  private route(l: Link, packet: Packet, nowMs: number): SendResult {
    let delayMs = 0;
    let unordered = false;
    let corrupt = false;
    const copies: number[] = [];
    for (let i = -2; i < this.rules.length; i++) {
      const rule = i === -2 ? this.partition : i === -1 ? this.clogs : (this.rules[i] as NetRule);
      const v = rule.onPacket(packet, this.rng, nowMs);
      if (v.kind === 'drop') return { kind: 'reset' };
      if (v.kind === 'hold') {
        l.held.push(packet);
        return { kind: 'held' };
      }
      if (v.kind === 'deliver') (delayMs += v.delayMs), (unordered ||= v.unordered === true);
      else if (v.kind === 'duplicate') copies.push(v.delayMs);
      else if (v.kind === 'corrupt') corrupt = true;
    }
    const p = corrupt ? this.corrupted(packet) : packet;
    const dir = packet.from === l.a ? 0 : 1;
    let atMs = nowMs + l.latencyMs[dir] + delayMs;
    if (!unordered) atMs = Math.max(atMs, l.lastArrivalMs[dir]);
    l.lastArrivalMs[dir] = Math.max(l.lastArrivalMs[dir], atMs);
    const deliveries = [{ atMs, packet: p }];
    for (const extra of copies) deliveries.push({ atMs: atMs + extra, packet: { ...p, duplicate: true } });
    return { kind: 'sent', deliveries };
  }

  /** Flip one byte of a HEREIS block (the hash claim stays: the receiver must notice). */
  private corrupted(p: Packet): Packet {
    if (p.msg.cmd !== 'HEREIS') return p;
    const data = p.msg.data.slice();
    const i = this.rng.int(data.byteLength);
    data[i] = ((data[i] as number) ^ (1 + this.rng.int(255))) & 0xff;
    this.options.onCorrupt?.(p.msg, data);
    return { ...p, msg: { ...p.msg, data } };
  }

  /** Partition healed: held packets go out in order, on their connections if still alive. */
  release(nowMs: number): { atMs: number; packet: Packet }[] {
    const out: { atMs: number; packet: Packet }[] = [];
    for (const l of this.links.values()) {
      const held = l.held;
      l.held = [];
      for (const p of held) {
        if (!l.up || l.epoch !== p.epoch) continue;
        const dir = p.from === l.a ? 0 : 1;
        const atMs = Math.max(nowMs + l.latencyMs[dir], l.lastArrivalMs[dir]);
        l.lastArrivalMs[dir] = atMs;
        out.push({ atMs, packet: p });
      }
    }
    return out;
  }

  heldCount(): number {
    let n = 0;
    for (const l of this.links.values()) n += l.held.length;
    return n;
  }
}
