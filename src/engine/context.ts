/**
 * The engine's volatile side and one handle() call's working set.
 *
 * `Volatile` is what the engine keeps that is not in the log and need not
 * survive a restart: live links, message ids seen, the block index, transfer
 * plans (which blocks are in flight where), effects outstanding, reconnect
 * backoff. Nothing in here may influence a decision event (see decide.ts);
 * it only shapes sends, fs ops and timers.
 *
 * `Call` collects a call's stamped events and outputs. `record` stamps an
 * input event, folds it, and runs decide() on it, stamping and folding each
 * decision in turn, so the state always equals the fold of the log.
 */
import { hlcRemoteAheadMaxMs } from '../core/constants.js';
import { assert } from '../core/assert.js';
import { receive, tick, type Hlc } from '../core/hlc.js';
import type { BlockHash, MessageId, PeerId } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import type { WireMessage } from '../events/messages.js';
import { currentVersions, pathsOf, type Event } from '../events/types.js';
import type { FileVersion } from '../events/version.js';
import { evolve, type State } from '../projections/state.js';
import type { BlockIndex } from './block-index.js';
import { decide } from './decide.js';
import type { SeenMessages } from './seen.js';
import type { EffectId, EngineDeps, FsOp, Output, StampedEvent, TimerId } from './types.js';
import type { Plans } from './plans.js';
import type { Reconnects } from './reconnect.js';

/** A live connection to a neighbour. */
/** The version just committed at a path and the peers that announced it to us: they need not hear of it. */
export interface AnnounceSkip {
  readonly key: string;
  readonly peers: ReadonlySet<PeerId>;
}

export interface Link {
  readonly peer: PeerId;
  address: string;
  lastHeardMs: number;
  /** The end of the unbroken range of our index announced to this peer; null before its LIST. */
  sentUpTo: number | null;
  /** When we last sent it LIST, and the highest `upTo` it has announced to us since. */
  listSentAtMs: number;
  /** An announcement joined our cursor since that LIST (else the LIST or its answer was lost). */
  listAnswered: boolean;
  maxUpToSeen: number;
  /** Our block requests outstanding at this peer, and its requests we are serving. */
  requests: number;
  serving: number;
  /** A disconnect was asked for; the driver will report it. */
  closing: boolean;
}

/** What an outstanding fs effect was for, so its outcome can be recorded and acted on. */
export type EffectRecord =
  /** `kept`: a keepBlock (the block looked for in a temp file a restart left); it is fetched or copied if not there. */
  | { kind: 'block'; path: SyncPath; key: string; hash: BlockHash; from: PeerId | null; size: number; readFrom: SyncPath | null; kept?: true }
  /** `filesSeq`: the path's changedSeq when the op was issued, to notice the projection moving on meanwhile. */
  | { kind: 'commit'; path: SyncPath; key: string; version: FileVersion; filesSeq: number }
  | { kind: 'move'; from: SyncPath; to: SyncPath; tombstone: FileVersion; version: FileVersion; keyFrom: string; keyTo: string; filesSeqFrom: number; filesSeqTo: number }
  | { kind: 'serve'; peer: PeerId; path: SyncPath }
  | { kind: 'rescan' };

export interface Volatile {
  readonly links: Map<PeerId, Link>;
  readonly seen: SeenMessages;
  /** SEARCH ids we forwarded -> the neighbour that asked, to route FOUND back. */
  readonly searches: SeenMessages<PeerId>;
  readonly blocks: BlockIndex;
  readonly plans: Plans;
  readonly effects: Map<EffectId, EffectRecord>;
  readonly reconnects: Reconnects;
  /** Paths whose next announcement skips peers known to hold that very version (by its versionKey). */
  readonly skipAnnounce: Map<SyncPath, AnnounceSkip>;
  tickDueMs: number | null;
  nextEffect: number;
  started: boolean;
  /** Paths whose transfer a restart interrupted: their next plan first looks for its blocks in the temp file left behind. */
  readonly resumable: Set<SyncPath>;
}

export interface EngineCore {
  readonly state: State;
  readonly deps: EngineDeps;
  readonly selfAddress: string;
  readonly vol: Volatile;
}

export class Call {
  readonly events: StampedEvent[] = [];
  readonly outputs: Output[] = [];
  /** Paths any event of this call concerns, in first-seen order (plans and the block index follow them). */
  readonly touched = new Set<SyncPath>();
  /** (peer, path, version key) announced to us this call: a plan for that version skips them when announcing. */
  readonly announcedBy: { from: PeerId; path: SyncPath; key: string }[] = [];
  readonly headAtStart: number;

  constructor(
    readonly core: EngineCore,
    readonly nowMs: number,
  ) {
    this.headAtStart = core.state.meta.head;
  }

  get state(): State {
    return this.core.state;
  }

  get vol(): Volatile {
    return this.core.vol;
  }

  get self(): PeerId {
    const self = this.core.state.meta.self;
    assert(self !== null, 'the engine needs create or join before anything else');
    return self;
  }

  /** Record an input event and the decisions it calls for; returns them all, input first. */
  record(e: Event, remote: Hlc | null = null): StampedEvent[] {
    const input = this.append(e, remote);
    const out = [input];
    decide(this.core.state, input, (decision) => out.push(this.append(decision, null)));
    return out;
  }

  private append(e: Event, remote: Hlc | null): StampedEvent {
    const s = this.core.state;
    const peer = s.meta.self ?? (e.type === 'NetworkCreated' || e.type === 'NetworkJoined' ? e.data.peer : null);
    assert(peer !== null, `${e.type} before the network was created or joined`);
    const trusted = remote !== null && remote.wallMs <= this.nowMs + hlcRemoteAheadMaxMs;
    const hlc = trusted ? receive(s.meta.hlc, remote, this.nowMs) : tick(s.meta.hlc, this.nowMs);
    // A literal, not `{ ...e, more }`: V8 builds a spread on a slow path, and this runs per event.
    const stamped = { type: e.type, data: e.data, seq: s.meta.head + 1, id: this.core.deps.ids.eventId(this.nowMs), hlc, peer, v: currentVersions[e.type] } as StampedEvent;
    evolve(s, stamped);
    this.events.push(stamped);
    for (const p of pathsOf(e)) this.touched.add(p);
    return stamped;
  }

  send(to: PeerId, msg: WireMessage): void {
    const link = this.vol.links.get(to);
    if (link === undefined || link.closing) return;
    this.outputs.push({ kind: 'send', to, msg });
  }

  /** Send to every live neighbour but `except`. */
  sendAll(msg: (to: PeerId) => WireMessage | null, except: ReadonlySet<PeerId> = new Set()): void {
    for (const link of this.vol.links.values()) {
      if (except.has(link.peer) || link.closing) continue;
      const m = msg(link.peer);
      if (m !== null) this.outputs.push({ kind: 'send', to: link.peer, msg: m });
    }
  }

  fs(op: FsOp, record: EffectRecord): EffectId {
    const effect = `fx${this.vol.nextEffect++}`;
    this.vol.effects.set(effect, record);
    this.outputs.push({ kind: 'fs', effect, op });
    return effect;
  }

  setTimer(timer: TimerId, atMs: number): void {
    this.outputs.push({ kind: 'setTimer', timer, atMs });
  }

  connect(address: string): void {
    this.outputs.push({ kind: 'connect', address });
  }

  disconnect(peer: PeerId, reason: string): void {
    const link = this.vol.links.get(peer);
    if (link !== undefined) link.closing = true;
    this.outputs.push({ kind: 'disconnect', peer, reason });
  }

  messageId(): MessageId {
    return this.core.deps.ids.messageId();
  }
}
