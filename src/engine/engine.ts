/**
 * The sans-IO sync engine: handle(input, nowMs) -> outputs.
 *
 * Theory of operation (one call)
 * 1. The input becomes a recorded input event (stamped with seq, id, HLC,
 *    peer and schema version) and is folded into the state at once; decide()
 *    then runs on it and each decision is recorded and folded too (Call.record).
 * 2. The engine acts on what was recorded: sends, fs ops and timers, using
 *    its volatile side (links, seen ids, plans) — never to change a decision.
 *    Acting may record further observations (a block rejected, a transfer
 *    failed, an effect's outcome), each decided on the same way.
 * 3. At the end of the call the block index follows the files that changed,
 *    transfer plans follow state.transfers (new targets start, replaced ones
 *    stop), requests are pumped, ready plans commit, and the call's changes
 *    are announced.
 * The result is one `append` with every event of the call, then the rest.
 */
import type { Hlc } from '../core/hlc.js';
import { compareHlc } from '../core/hlc.js';
import type { PeerId } from '../core/ids.js';
import { toLogged, type WireMessage } from '../events/messages.js';
import type { FileVersion } from '../events/version.js';
import type { State } from '../projections/state.js';
import { announceChanges, serveList } from './announce.js';
import { BlockIndex } from './block-index.js';
import { commitReady, onEffect, tryMove } from './commits.js';
import { Call, type EngineCore, type Volatile } from './context.js';
import {
  armReconnect, armTick, forwardCantSee, forwardLearned, noteRange, onConnected, onDisconnected, onHello,
  onReconnectTimer, onTick, wantJoinAddress,
} from './discovery.js';
import { versionKey, Plans } from './plans.js';
import { Reconnects } from './reconnect.js';
import { onFound, onSearch } from './search.js';
import { SeenMessages } from './seen.js';
import { serveWants } from './serve.js';
import { cancelPlan, onBlock, onDontHave, onPeerGone, onPeerUp, onTick as transfersTick, pump, syncPlan } from './transfers.js';
import type { CliCommand, Engine, EngineDeps, Input, LocalChange, Output } from './types.js';

export interface EngineOptions {
  /** Projections from a cold start (the store's loadState) or initialState(). */
  readonly state: State;
  readonly deps: EngineDeps;
  /** The address we listen on, so we never dial ourselves. */
  readonly selfAddress: string;
}

export function createEngine(options: EngineOptions): Engine {
  return new SyncEngine(options);
}

class SyncEngine implements Engine, EngineCore {
  readonly state: State;
  readonly deps: EngineDeps;
  readonly selfAddress: string;
  readonly vol: Volatile;

  constructor(options: EngineOptions) {
    this.state = options.state;
    this.deps = options.deps;
    this.selfAddress = options.selfAddress;
    this.vol = {
      links: new Map(), seen: new SeenMessages(), searches: new SeenMessages<PeerId>(),
      blocks: BlockIndex.fromFiles(options.state.files), plans: new Plans(), effects: new Map(),
      reconnects: new Reconnects(), skipAnnounce: new Map(), tickDueMs: null, nextEffect: 1, started: false, resumable: new Set(),
    };
  }

  handle(input: Input, nowMs: number): Output[] {
    const call = new Call(this, nowMs);
    this.dispatch(call, input);
    if (!this.vol.started && this.state.meta.self !== null && !this.state.meta.left) start(call);
    finish(call);
    return call.events.length === 0 ? call.outputs : [{ kind: 'append', events: call.events }, ...call.outputs];
  }

  private dispatch(call: Call, input: Input): void {
    switch (input.kind) {
      case 'command':
        return command(call, input.command);
      case 'local':
        call.record(localEvent(input.change));
        return;
      case 'connected':
        call.record({ type: 'PeerConnected', data: { peer: input.peer, address: input.address, direction: input.direction } });
        onPeerUp(call);
        return onConnected(call, input.peer, input.address);
      case 'disconnected':
        call.record({ type: 'PeerDisconnected', data: { peer: input.peer, reason: input.reason } });
        onPeerGone(call, input.peer);
        return onDisconnected(call, input.peer);
      case 'received':
        return received(call, input.from, input.msg);
      case 'timer':
        call.record({ type: 'TimerFired', data: { timer: input.timer } });
        if (!this.vol.started || this.state.meta.left) return;
        if (input.timer === 'tick') {
          transfersTick(call);
          return onTick(call);
        }
        if (input.timer === 'reconnect') return onReconnectTimer(call);
        return;
      case 'effectDone': {
        const rec = this.vol.effects.get(input.effect);
        if (rec === undefined) return; // an effect from before a restart, or reported twice
        this.vol.effects.delete(input.effect);
        return onEffect(call, rec, input.result);
      }
    }
  }
}

function localEvent(change: LocalChange) {
  switch (change.kind) {
    case 'changed':
      return { type: 'LocalFileChanged', data: change.observation } as const;
    case 'deleted':
      return { type: 'LocalFileDeleted', data: { path: change.path } } as const;
    case 'moved':
      return { type: 'LocalFileMoved', data: { from: change.from, to: change.to } } as const;
    case 'scanFinished':
      return { type: 'ScanFinished', data: { files: change.files, bytes: change.bytes } } as const;
  }
}

function command(call: Call, c: CliCommand): void {
  switch (c.kind) {
    case 'create': {
      const data = { networkId: c.networkId, name: c.name, peer: c.peer, dir: c.dir };
      call.record({ type: 'NetworkCreated', data: c.admin === undefined ? data : { ...data, admin: c.admin } });
      return;
    }
    case 'join':
      call.record({ type: 'NetworkJoined', data: { name: c.name, peer: c.peer, dir: c.dir, via: c.via } });
      if (c.via !== '' && c.via !== call.core.selfAddress) call.connect(c.via);
      return;
    case 'leave':
      call.record({ type: 'NetworkLeft', data: { deleteDir: c.deleteDir } });
      for (const link of [...call.vol.links.values()]) call.disconnect(link.peer, 'left the network');
      call.vol.reconnects.clear();
      for (const plan of [...call.vol.plans.byPath.values()]) cancelPlan(call, plan);
      return;
    case 'resolve': {
      const events = call.record({ type: 'ResolveRequested', data: { path: c.path, keep: c.keep } });
      for (const e of events) {
        if (e.type !== 'ConflictResolved') continue;
        const id = call.messageId();
        call.vol.seen.add(id, call.nowMs, true);
        call.sendAll(() => ({ cmd: 'RESOLVED', id, path: e.data.path, copyPath: e.data.copyPath, keep: e.data.keep, by: e.data.by }));
      }
      return;
    }
  }
}

/** The latest version stamp a message carries, so our clock moves past it. */
function remoteStamp(m: WireMessage): Hlc | null {
  const versions = m.cmd === 'IHAVE' ? m.files : m.cmd === 'IMOVED' ? [m.tombstone, m.version] : m.cmd === 'IDELETED' ? [m.version] : [];
  let latest: Hlc | null = null;
  for (const v of versions) if (latest === null || compareHlc(v.hlc, latest) > 0) latest = v.hlc;
  return latest;
}

function received(call: Call, from: PeerId, m: WireMessage): void {
  const fresh = call.vol.seen.add(m.id, call.nowMs, true);
  const link = call.vol.links.get(from);
  if (link !== undefined) link.lastHeardMs = call.nowMs;
  const message = toLogged(m);
  call.record({ type: 'MessageReceived', data: fresh ? { from, message } : { from, message, duplicate: true } }, remoteStamp(m));
  if (!fresh) return; // a duplicate: recorded (marked so), but neither decided on nor acted on again
  react(call, from, m);
}

function react(call: Call, from: PeerId, m: WireMessage): void {
  switch (m.cmd) {
    case 'HELLO': return onHello(call, from, m);
    case 'ICANSEE': case 'IKNOWABOUT': return forwardLearned(call, from, m);
    case 'ICANTSEE': return forwardCantSee(call, from, m);
    case 'PING': return call.send(from, { cmd: 'PONG', id: call.messageId(), ping: m.id });
    case 'LIST': return serveList(call, from, m.since);
    case 'IHAVE': return announced(call, from, m.files, m.upTo);
    case 'IDELETED': return announced(call, from, [m.version], m.upTo);
    case 'IMOVED':
      call.vol.plans.moveHints.push(m);
      return announced(call, from, [m.tombstone, m.version], m.upTo);
    case 'RESOLVED': return call.sendAll(() => m, new Set([from]));
    case 'IWANT': return serveWants(call, from, m.hashes);
    case 'HEREIS': return onBlock(call, from, m.hash, m.data);
    case 'DONTHAVE': return onDontHave(call, from, m.hashes);
    case 'SEARCH': return onSearch(call, from, m);
    case 'FOUND': return onFound(call, m);
    case 'PONG': case 'ERROR': return;
  }
}

function announced(call: Call, from: PeerId, versions: readonly FileVersion[], upTo: number): void {
  noteRange(call, from, upTo);
  for (const v of versions) call.announcedBy.push({ from, path: v.path, key: versionKey(v) });
}

/** First call with a known identity: timers, reconnects and the transfers a restart left pending. */
function start(call: Call): void {
  call.vol.started = true;
  armTick(call);
  for (const p of call.state.peers.values()) {
    if (p.reachability === 'direct' && p.address !== '' && p.address !== call.core.selfAddress) call.vol.reconnects.want(p.address, call.nowMs);
  }
  wantJoinAddress(call);
  armReconnect(call);
  for (const t of call.state.transfers.values()) {
    call.touched.add(t.path);
    call.vol.resumable.add(t.path);
  }
}

function finish(call: Call): void {
  for (const path of call.touched) {
    const e = call.state.files.get(path);
    if (e === undefined || e.changedSeq > call.headAtStart) call.vol.blocks.update(path, e?.version);
  }
  if (call.vol.started && !call.state.meta.left) {
    for (const m of call.vol.plans.moveHints.splice(0)) tryMove(call, m);
    for (const path of call.touched) syncPlan(call, path);
    for (const a of call.announcedBy) {
      const plan = call.vol.plans.byPath.get(a.path);
      if (plan?.key === a.key) plan.announcedBy.add(a.from);
    }
    pump(call);
    commitReady(call);
  }
  announceChanges(call);
}
