/**
 * Read models for the CLI, computed from the projections: `status`, `network`
 * and `conflicts`. Pure, so `--as-of` can apply them to a state rebuilt from a
 * prefix of the log.
 */
import { isUnder } from '../core/path.js';
import type { State } from './state.js';

export type FileState = 'in sync' | 'downloading' | 'waiting for a source' | 'failed' | 'conflict' | 'deleted';

export interface StatusRow {
  path: string;
  type: string;
  size: number;
  state: FileState;
  blocksDone: number;
  blocksTotal: number;
  detail: string | null;
}

export interface StatusSummary {
  files: number;
  inSync: number;
  downloading: number;
  waiting: number;
  failed: number;
  conflicts: number;
  deleted: number;
  bytes: number;
}

export interface StatusView {
  rows: StatusRow[];
  summary: StatusSummary;
  head: number;
}

export function statusView(s: State, options: { path?: string; all?: boolean; connected?: ReadonlySet<string> } = {}): StatusView {
  const conflicted = new Set<string>();
  for (const c of s.conflicts.values()) conflicted.add(c.path).add(c.copyPath);
  const paths = new Set<string>([...s.files.keys(), ...s.transfers.keys()]);
  const rows: StatusRow[] = [];
  const summary: StatusSummary = { files: 0, inSync: 0, downloading: 0, waiting: 0, failed: 0, conflicts: 0, deleted: 0, bytes: 0 };
  for (const path of [...paths].sort()) {
    if (options.path !== undefined && !isUnder(path, options.path)) continue;
    const row = statusRow(s, path, conflicted, options.connected);
    if (row.state === 'deleted') {
      summary.deleted++;
      if (options.all !== true) continue;
    } else {
      summary.files++;
      summary.bytes += row.size;
    }
    if (row.state === 'in sync') summary.inSync++;
    else if (row.state === 'downloading') summary.downloading++;
    else if (row.state === 'waiting for a source') summary.waiting++;
    else if (row.state === 'failed') summary.failed++;
    else if (row.state === 'conflict') summary.conflicts++;
    rows.push(row);
  }
  return { rows, summary, head: s.meta.head };
}

function statusRow(s: State, path: string, conflicted: ReadonlySet<string>, connected: ReadonlySet<string> | undefined): StatusRow {
  const committed = s.files.get(path)?.version;
  const t = s.transfers.get(path);
  const v = t?.version ?? committed;
  const base = { path, type: v?.type ?? 'file', size: v?.size ?? 0, blocksDone: t?.blocksDone ?? 0, blocksTotal: t?.blocksTotal ?? 0, detail: null };
  if (t !== undefined) {
    if (t.state === 'failed') return { ...base, state: 'failed', detail: t.reason };
    const live = connected === undefined || t.sources.some((p) => connected.has(p));
    if (!live) return { ...base, state: 'waiting for a source', detail: `sources offline: ${t.sources.map((p) => p.slice(0, 8)).join(', ')}` };
    return { ...base, state: 'downloading' };
  }
  if (committed?.deleted === true) return { ...base, state: 'deleted' };
  if (conflicted.has(path)) return { ...base, state: 'conflict' };
  return { ...base, state: 'in sync' };
}

export interface NetworkRow {
  peer: string;
  self: boolean;
  address: string;
  reachability: 'self' | 'direct' | 'indirect' | 'gone';
  via: string | null;
  lastSeen: string | null;
}

export function networkView(s: State, selfAddress: string): NetworkRow[] {
  const rows: NetworkRow[] = [];
  if (s.meta.self !== null) rows.push({ peer: s.meta.self, self: true, address: selfAddress, reachability: 'self', via: null, lastSeen: null });
  for (const p of [...s.peers.values()].sort((a, b) => (a.peer < b.peer ? -1 : 1))) {
    if (p.peer === s.meta.self) continue;
    rows.push({
      peer: p.peer, self: false, address: p.address, reachability: p.reachability, via: p.via,
      lastSeen: p.lastSeenMs > 0 ? new Date(p.lastSeenMs).toISOString() : null,
    });
  }
  return rows;
}

export const conflictsView = (s: State) => [...s.conflicts.values()].sort((a, b) => (a.copyPath < b.copyPath ? -1 : 1));
