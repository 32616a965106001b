/**
 * Discovery and liveness (the seed's HELLO, ICANSEE, IKNOWABOUT, ICANTSEE,
 * PING), as sends and timers. What is recorded about peers is decided in
 * peers.ts; this module only talks.
 *
 * Theory of operation
 * - The transport exchanges HELLO before the engine hears of a connection;
 *   the driver then feeds `connected` and `received HELLO`. On `connected`
 *   we ask the peer for what changed since our cursor (LIST). On its HELLO we
 *   tell it every peer we see directly (ICANSEE) or know about (IKNOWABOUT),
 *   and tell our other neighbours that we now see it (ICANSEE).
 * - ICANSEE/IKNOWABOUT are forwarded as IKNOWABOUT, ICANTSEE as ICANTSEE,
 *   keeping the message id, so each cascade crosses every link at most once
 *   per direction and ends (ids are remembered in `seen`).
 * - Losing a link: ICANTSEE to the remaining neighbours, and a reconnect
 *   schedule (reconnect.ts).
 * - Every pingIntervalMs ('tick' timer) each neighbour gets a PING; one that
 *   was silent for peerTimeoutMs is disconnected. The tick also re-sends LIST
 *   when a neighbour's announcements left a gap in our cursor or our LIST got
 *   no answer within requestTimeoutMs.
 */
import { knownPeersMax, peerTimeoutMs, pingIntervalMs, requestTimeoutMs } from '../core/constants.js';
import type { PeerId } from '../core/ids.js';
import type { MessageOf, PeerInfo } from '../events/messages.js';
import type { Call, Link } from './context.js';

export function onConnected(call: Call, peer: PeerId, address: string): void {
  const link: Link = {
    peer, address, lastHeardMs: call.nowMs, sentUpTo: null, listSentAtMs: call.nowMs, listAnswered: false,
    maxUpToSeen: 0, requests: 0, serving: 0, closing: false,
  };
  call.vol.links.set(peer, link);
  call.vol.reconnects.drop(address);
  call.vol.reconnects.drop(call.state.peers.get(peer)?.address ?? '');
  sendList(call, link);
}

function sendList(call: Call, link: Link, since = call.state.peers.get(link.peer)?.cursor ?? 0): void {
  link.listSentAtMs = call.nowMs;
  link.listAnswered = false;
  call.send(link.peer, { cmd: 'LIST', id: call.messageId(), since });
}

const infoOf = (call: Call, peer: PeerId, address: string): PeerInfo => ({ name: call.state.meta.name ?? '', uuid: peer, address });

export function onHello(call: Call, from: PeerId, m: MessageOf<'HELLO'>): void {
  call.vol.reconnects.drop(m.address);
  let told = 0;
  for (const p of call.state.peers.values()) {
    if (told >= knownPeersMax) break;
    if (p.peer === from || p.peer === call.self || p.reachability === 'gone') continue;
    const direct = call.vol.links.has(p.peer);
    call.send(from, { cmd: direct ? 'ICANSEE' : 'IKNOWABOUT', id: call.messageId(), via: call.self, peer: infoOf(call, p.peer, p.address) });
    told++;
  }
  const id = call.messageId();
  call.vol.seen.add(id, call.nowMs, true);
  call.sendAll(() => ({ cmd: 'ICANSEE', id, via: call.self, peer: infoOf(call, from, m.address) }), new Set([from]));
}

export function forwardLearned(call: Call, from: PeerId, m: MessageOf<'ICANSEE'> | MessageOf<'IKNOWABOUT'>): void {
  if (m.peer.uuid === call.self) return;
  call.sendAll(() => ({ cmd: 'IKNOWABOUT', id: m.id, via: call.self, peer: m.peer }), new Set([from, m.peer.uuid]));
}

export function forwardCantSee(call: Call, from: PeerId, m: MessageOf<'ICANTSEE'>): void {
  if (call.vol.links.has(m.uuid) || m.uuid === call.self) return; // we still see it: the news is wrong for our side
  call.sendAll(() => ({ cmd: 'ICANTSEE', id: m.id, via: call.self, uuid: m.uuid }), new Set([from]));
}

export function onDisconnected(call: Call, peer: PeerId): void {
  const link = call.vol.links.get(peer);
  call.vol.links.delete(peer);
  const id = call.messageId();
  call.vol.seen.add(id, call.nowMs, true);
  call.sendAll(() => ({ cmd: 'ICANTSEE', id, via: call.self, uuid: peer }));
  if (call.state.meta.left) return;
  const address = call.state.peers.get(peer)?.address || link?.address || '';
  if (address !== '' && address !== call.core.selfAddress && (call.self < peer || call.vol.links.size === 0)) {
    call.vol.reconnects.want(address, call.nowMs);
  }
  wantJoinAddress(call);
  armReconnect(call);
}

/** Isolated: redial where we joined. */
export function wantJoinAddress(call: Call): void {
  const via = call.state.meta.joinedVia;
  if (via !== null && via !== '' && call.vol.links.size === 0 && !call.state.meta.left) call.vol.reconnects.want(via, call.nowMs);
}

export function armReconnect(call: Call): void {
  const r = call.vol.reconnects;
  const next = r.nextDueMs();
  if (next === null || (r.armedMs !== null && r.armedMs <= next)) return;
  r.armedMs = next;
  call.setTimer('reconnect', next);
}

export function onReconnectTimer(call: Call): void {
  const r = call.vol.reconnects;
  r.armedMs = null;
  const connected = new Set<string>();
  for (const link of call.vol.links.values()) {
    connected.add(link.address);
    connected.add(call.state.peers.get(link.peer)?.address ?? '');
  }
  for (const address of r.due(call.nowMs)) {
    if (connected.has(address)) r.drop(address);
    else call.connect(address);
  }
  armReconnect(call);
}

export function armTick(call: Call): void {
  call.vol.tickDueMs = call.nowMs + pingIntervalMs;
  call.setTimer('tick', call.vol.tickDueMs);
}

/** Liveness: ping or drop each neighbour; re-ask LIST where our cursor has a gap. */
export function onTick(call: Call): void {
  for (const link of [...call.vol.links.values()]) {
    if (link.closing) continue;
    if (call.nowMs - link.lastHeardMs >= peerTimeoutMs) {
      call.disconnect(link.peer, `silent for ${call.nowMs - link.lastHeardMs} ms`);
      continue;
    }
    call.send(link.peer, { cmd: 'PING', id: call.messageId() });
    const cursor = call.state.peers.get(link.peer)?.cursor ?? 0;
    const gap = link.maxUpToSeen > cursor || !link.listAnswered;
    if (gap && call.nowMs - link.listSentAtMs >= requestTimeoutMs) sendList(call, link);
  }
  armTick(call);
}

/**
 * Ask every neighbour for its whole index again: after we gave up a target,
 * versions we had set aside as older than it (and so forgot) must come back.
 * Rare (a target nobody can send), and the answers change nothing else.
 */
export function relistAll(call: Call): void {
  for (const link of call.vol.links.values()) if (!link.closing) sendList(call, link, 0);
}

/** An announcement from `from` arrived (and was folded): track its range against our cursor. */
export function noteRange(call: Call, from: PeerId, upTo: number): void {
  const link = call.vol.links.get(from);
  if (link === undefined) return;
  link.maxUpToSeen = Math.max(link.maxUpToSeen, upTo);
  if ((call.state.peers.get(from)?.cursor ?? 0) >= upTo) link.listAnswered = true;
}
