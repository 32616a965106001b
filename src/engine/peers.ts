/**
 * Decisions about the peer graph (the peers projection): who we know about
 * and through whom. ICANSEE and IKNOWABOUT teach us a peer reachable through
 * their sender; ICANTSEE, or losing the direct link, forgets the peers we
 * only knew through that sender. Only news is recorded, so a cascade that
 * reaches us twice, or an old announcement, records nothing.
 */
import { knownPeersMax } from '../core/constants.js';
import type { PeerId } from '../core/ids.js';
import type { MessageOf } from '../events/messages.js';
import type { Decider } from './decider.js';

export function decideLearned(d: Decider, from: PeerId, m: MessageOf<'ICANSEE'> | MessageOf<'IKNOWABOUT'>): void {
  const peer = m.peer.uuid;
  if (peer === d.self || peer === from) return;
  const known = d.state.peers.get(peer);
  if (known === undefined && d.state.peers.size >= knownPeersMax) return;
  if (known?.reachability === 'direct') return;
  if (known?.reachability === 'indirect' && known.via === from && (m.peer.address === '' || known.address === m.peer.address)) return;
  d.emit({ type: 'PeerLearned', data: { peer, address: m.peer.address, via: from, direct: m.cmd === 'ICANSEE' } });
}

export function decideCantSee(d: Decider, from: PeerId, m: MessageOf<'ICANTSEE'>): void {
  const known = d.state.peers.get(m.uuid);
  if (known?.reachability === 'indirect' && known.via === from) d.emit({ type: 'PeerLost', data: { peer: m.uuid, via: from } });
}

/** A direct link went down: everyone we knew only through it is lost too. */
export function decideLinkLost(d: Decider, gone: PeerId): void {
  const lost: PeerId[] = [];
  for (const p of d.state.peers.values()) if (p.reachability === 'indirect' && p.via === gone) lost.push(p.peer);
  for (const peer of lost) d.emit({ type: 'PeerLost', data: { peer, via: gone } });
}
