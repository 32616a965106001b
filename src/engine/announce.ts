/**
 * Announcing: "announce, and send only when asked" (the seed).
 *
 * Theory of operation
 * - Every change to the files projection made in a handle() call (a local
 *   change, a commit of a remote version, a merge) is announced to every
 *   live neighbour at the end of that call: IMOVED for a local move (the
 *   tombstone and the new version together), IDELETED for a tombstone, IHAVE
 *   for the rest. Announcing committed remote versions is what makes
 *   store-and-forward work: a peer not connected to the origin hears of a
 *   change from the peers in between once they have it.
 * - Each announcement covers a range (since, upTo] of our index sequence,
 *   chained per neighbour from what it has acknowledged by asking LIST, so its
 *   cursor moves only over an unbroken run. A neighbour that announced exactly
 *   the version we just committed is skipped (it has it); the range still
 *   covers that entry.
 * - LIST {since} is answered with IHAVE batches of every entry whose
 *   changedSeq > since, in changedSeq order, bounded by itemsPerMessageMax and
 *   a byte budget, never splitting entries of one sequence; the last batch (or
 *   an empty one) carries upTo = our head so the cursor always advances. A
 *   `since` beyond our head (our log is shorter than the peer believes) gets
 *   the complete listing (since = 0).
 */
import { frameBytesMax, itemsPerMessageMax } from '../core/constants.js';
import type { PeerId } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import type { WireMessage } from '../events/messages.js';
import type { FileVersion } from '../events/version.js';
import type { FileEntry } from '../projections/state.js';
import type { AnnounceSkip, Call, Link } from './context.js';
import { versionKey } from './plans.js';

const batchBytesMax = Math.floor(frameBytesMax / 2);

/** A generous estimate of a version's JSON size, to keep a batch inside one frame. */
const versionBytes = (v: FileVersion): number =>
  400 + v.path.length * 4 + (v.target?.length ?? 0) * 4 + v.blocks.length * 67 + Object.keys(v.vv).length * 32;

type Group =
  | { kind: 'have'; entries: FileEntry[]; seq: number }
  | { kind: 'deleted'; entry: FileEntry; seq: number }
  | { kind: 'moved'; from: FileEntry; to: FileEntry; seq: number };

/** Split entries (sorted by changedSeq) into IHAVE-sized groups without splitting one sequence. */
function haveGroups(entries: readonly FileEntry[]): Group[] {
  const groups: Group[] = [];
  let current: FileEntry[] = [];
  let bytes = 0;
  entries.forEach((e, i) => {
    current.push(e);
    bytes += versionBytes(e.version);
    const next = entries[i + 1];
    const full = current.length >= itemsPerMessageMax - 1 || bytes >= batchBytesMax;
    if (next === undefined || (full && next.changedSeq !== e.changedSeq)) {
      groups.push({ kind: 'have', entries: current, seq: e.changedSeq });
      current = [];
      bytes = 0;
    }
  });
  return groups;
}

/** The files entries changed in this call, grouped for announcing. */
function changedGroups(call: Call): Group[] {
  const s = call.state;
  const changed: FileEntry[] = [];
  for (const path of call.touched) {
    const e = s.files.get(path);
    if (e !== undefined && e.changedSeq > call.headAtStart) changed.push(e);
  }
  if (changed.length === 0) return [];
  changed.sort((a, b) => a.changedSeq - b.changedSeq || (a.version.path < b.version.path ? -1 : 1));
  const moves = new Map<number, { from: SyncPath; to: SyncPath }>();
  for (const e of call.events) if (e.type === 'LocalFileMoved') moves.set(e.seq, e.data);
  const groups: Group[] = [];
  let haves: FileEntry[] = [];
  for (const e of changed) {
    const move = moves.get(e.changedSeq);
    const from = move === undefined ? undefined : s.files.get(move.from);
    const to = move === undefined ? undefined : s.files.get(move.to);
    if (move !== undefined && from?.changedSeq === e.changedSeq && to?.changedSeq === e.changedSeq && from.version.deleted) {
      if (e.version.path === move.to) continue; // sent with its tombstone
      haves = flushHaves(groups, haves);
      groups.push({ kind: 'moved', from, to, seq: e.changedSeq });
    } else if (e.version.deleted) {
      haves = flushHaves(groups, haves);
      groups.push({ kind: 'deleted', entry: e, seq: e.changedSeq });
    } else haves.push(e);
  }
  flushHaves(groups, haves);
  return groups;
}

/** Close the run of IHAVE entries so far (a function, not a closure: this runs every call that changed files). */
function flushHaves(groups: Group[], haves: readonly FileEntry[]): FileEntry[] {
  if (haves.length > 0) groups.push(...haveGroups(haves));
  return [];
}

/** A neighbour that announced exactly the version now at `path` needs no announcement of it. */
/**
 * Whether `peer` announced `version` itself, just committed here. Only that
 * very version is skipped: when a merge or a local change in the same step
 * moved the path on, the peer has not heard of what it holds now.
 */
function skipped(skips: ReadonlyMap<SyncPath, AnnounceSkip>, peer: PeerId, version: FileVersion): boolean {
  const skip = skips.get(version.path);
  return skip !== undefined && skip.peers.has(peer) && skip.key === versionKey(version);
}

function messageFor(call: Call, g: Group, skips: ReadonlyMap<SyncPath, AnnounceSkip>, peer: PeerId, since: number, upTo: number): WireMessage | null {
  const id = call.messageId();
  switch (g.kind) {
    case 'have': {
      const files: FileVersion[] = [];
      for (const e of g.entries) if (!skipped(skips, peer, e.version)) files.push(e.version);
      return files.length === 0 ? null : { cmd: 'IHAVE', id, files, since, upTo };
    }
    case 'deleted':
      return skipped(skips, peer, g.entry.version) ? null : { cmd: 'IDELETED', id, oldpath: g.entry.version.path, version: g.entry.version, since, upTo };
    case 'moved':
      return {
        cmd: 'IMOVED', id, oldpath: g.from.version.path, newpath: g.to.version.path,
        tombstone: g.from.version, version: g.to.version, since, upTo,
      };
  }
}

/** Announce this call's changes to every live neighbour. */
export function announceChanges(call: Call): void {
  const groups = changedGroups(call);
  const skips = call.vol.skipAnnounce;
  if (groups.length === 0) {
    skips.clear();
    return;
  }
  const head = call.state.meta.head;
  for (const link of call.vol.links.values()) {
    if (!link.closing) sendRun(call, link, groups, head, skips);
  }
  skips.clear();
}

function sendRun(call: Call, link: Link, groups: readonly Group[], head: number, skips: ReadonlyMap<SyncPath, AnnounceSkip>): void {
  let since = link.sentUpTo;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i] as Group;
    if (link.sentUpTo !== null && g.seq <= link.sentUpTo) continue; // a LIST answer already carried it
    const upTo = i === groups.length - 1 ? head : g.seq;
    const m = messageFor(call, g, skips, link.peer, since ?? upTo, upTo);
    if (m === null) continue;
    call.send(link.peer, m);
    if (since !== null) since = upTo;
  }
  if (link.sentUpTo !== null && since !== null) link.sentUpTo = since;
}

/** Answer LIST {since}. */
export function serveList(call: Call, from: PeerId, askedSince: number): void {
  const link = call.vol.links.get(from);
  if (link === undefined) return;
  const s = call.state;
  const head = s.meta.head;
  const since = askedSince > head ? 0 : askedSince;
  const entries = [...s.files.values()].filter((e) => e.changedSeq > since);
  entries.sort((a, b) => a.changedSeq - b.changedSeq || (a.version.path < b.version.path ? -1 : 1));
  const groups = haveGroups(entries);
  let from_ = since;
  groups.forEach((g, i) => {
    const upTo = i === groups.length - 1 ? head : g.seq;
    if (g.kind === 'have') call.send(from, { cmd: 'IHAVE', id: call.messageId(), files: g.entries.map((e) => e.version), since: from_, upTo });
    from_ = upTo;
  });
  if (groups.length === 0) call.send(from, { cmd: 'IHAVE', id: call.messageId(), files: [], since, upTo: head });
  link.sentUpTo = head;
}
