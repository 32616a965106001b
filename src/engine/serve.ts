/**
 * The block wire: asking for blocks (IWANT) and answering peers' IWANTs.
 *
 * Serving reads go through the driver (fs 'readBlock'), which sends HEREIS
 * itself so block bytes never pass through the engine or the log. A peer gets
 * at most outstandingRequestsPerPeerMax reads in flight; what is beyond that,
 * or what we do not hold, is answered with DONTHAVE so it asks elsewhere.
 */
import { hashesPerWantMax, outstandingRequestsPerPeerMax } from '../core/constants.js';
import type { BlockHash, PeerId } from '../core/ids.js';
import type { Call } from './context.js';

export function sendWants(call: Call, peer: PeerId, hashes: readonly BlockHash[]): void {
  for (let i = 0; i < hashes.length; i += hashesPerWantMax) {
    call.send(peer, { cmd: 'IWANT', id: call.messageId(), hashes: hashes.slice(i, i + hashesPerWantMax) });
  }
}

export function serveWants(call: Call, from: PeerId, hashes: readonly BlockHash[]): void {
  const link = call.vol.links.get(from);
  if (link === undefined) return;
  const missing: BlockHash[] = [];
  for (const hash of hashes) {
    const at = call.vol.blocks.find(hash);
    if (at === null || link.serving >= outstandingRequestsPerPeerMax) {
      missing.push(hash);
      continue;
    }
    link.serving++;
    call.fs({ op: 'readBlock', path: at.path, offset: at.offset, length: at.length, hash, forPeer: from }, { kind: 'serve', peer: from, path: at.path });
  }
  if (missing.length > 0) call.send(from, { cmd: 'DONTHAVE', id: call.messageId(), hashes: missing });
}
