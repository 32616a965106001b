/**
 * Search by name with a hop limit (seed 004): SEARCH is answered with FOUND
 * by every peer holding matching files and forwarded, one hop fewer, to the
 * other neighbours; FOUND travels back hop by hop along the path the SEARCH
 * took (`searches` remembers who asked). Cascade ids keep both bounded.
 */
import { blocksPerMessageMax, searchResultsMax } from '../core/constants.js';
import type { BlockHash, PeerId } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import type { MessageOf } from '../events/messages.js';
import type { Call } from './context.js';

type Match = { path: SyncPath; size: number; blocks: readonly BlockHash[] };

function matches(call: Call, query: string): Match[] {
  const q = query.toLowerCase();
  const out: Match[] = [];
  let blocks = 0;
  if (q === '') return out;
  for (const { version: v } of call.state.files.values()) {
    if (out.length >= searchResultsMax) break;
    if (v.deleted || v.type !== 'file' || !v.path.toLowerCase().includes(q)) continue;
    if (blocks + v.blocks.length > blocksPerMessageMax) continue;
    blocks += v.blocks.length;
    out.push({ path: v.path, size: v.size, blocks: v.blocks });
  }
  return out;
}

export function onSearch(call: Call, from: PeerId, m: MessageOf<'SEARCH'>): void {
  const found = matches(call, m.query);
  if (found.length > 0) call.send(from, { cmd: 'FOUND', id: call.messageId(), search: m.id, peer: call.self, matches: found });
  if (m.hops <= 0) return;
  call.vol.searches.add(m.id, call.nowMs, from);
  call.sendAll(() => ({ ...m, hops: m.hops - 1 }), new Set([from, m.origin]));
}

export function onFound(call: Call, m: MessageOf<'FOUND'>): void {
  const back = call.vol.searches.get(m.search, call.nowMs);
  if (back !== undefined) call.send(back, m);
}
