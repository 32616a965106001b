/**
 * The end of a transfer: committing a ready plan, doing an IMOVED as a local
 * rename, and recording what the driver reports back.
 *
 * Effect outcomes are inputs: each is recorded (BlockVerified, FileCommitted,
 * TransferFailed) before the plan moves on. An outcome for a plan that was
 * replaced meanwhile records nothing, except a commit or a move, which
 * changed the disk and so is always recorded.
 */
import type { SyncPath } from '../core/path.js';
import { sameContent } from '../events/version.js';
import type { MessageOf } from '../events/messages.js';
import type { Call, EffectRecord } from './context.js';
import { newPlan, versionKey, type Plan } from './plans.js';
import { blockNotKept, cancelPlan, expectAt, failPlan, settle } from './transfers.js';
import type { EffectResult, FsOp } from './types.js';

const changedOnDisk = (r: EffectResult): boolean => !r.ok && /changed on disk/i.test(r.message);

/**
 * A commit at `path` waits while local copies read from it, while another
 * commit there is out, and while a conflict copy of it is still being made
 * (the loser must be kept first).
 */
export function held(call: Call, path: SyncPath): boolean {
  const plans = call.vol.plans;
  if (plans.pendingReads.has(path) || plans.committing.has(path)) return true;
  for (const copyPath of plans.copiesFor.get(path) ?? []) {
    if (call.state.transfers.has(copyPath) && copyInReach(call, copyPath)) return true;
  }
  return false;
}

/**
 * The copy at `copyPath` can still be made: blocks are being copied or
 * written, or a live neighbour can send the rest. (A loser deleted from our
 * disk before it was copied, with nobody else holding it, is out of reach;
 * holding the winner back for it would hold it forever.)
 */
function copyInReach(call: Call, copyPath: SyncPath): boolean {
  const plan = call.vol.plans.byPath.get(copyPath);
  if (plan === undefined) return false;
  const sources = call.state.transfers.get(copyPath)?.sources ?? [];
  const askable = sources.some((p) => p !== call.state.meta.self && call.vol.links.has(p));
  // A failed attempt (a full disk, say) is retried: in reach while the blocks are still here.
  if (plan.phase === 'failed') return askable || plan.version.blocks.every((h) => call.vol.blocks.find(h) !== null);
  if (plan.phase !== 'blocks') return true;
  return plan.copying.size > 0 || plan.writing.size > 0 || plan.inflight.size > 0 || askable;
}

/**
 * Order within a tree: removing or replacing a directory waits for the
 * transfers below it (their removals go first), and anything below a
 * directory being created waits for it. Returns what it waits for: 'below'
 * (transfers under it), the path of the directory plan above it, or null.
 */
function waitsForTree(call: Call, plan: Plan): 'below' | SyncPath | null {
  const s = call.state;
  const current = s.files.get(plan.path)?.version;
  if (current !== undefined && !current.deleted && current.type === 'directory' && (plan.version.deleted || plan.version.type !== 'directory')) {
    const prefix = `${plan.path}/`;
    for (const p of s.transfers.keys()) if (p.startsWith(prefix)) return 'below';
  }
  for (let i = plan.path.lastIndexOf('/'); i > 0; i = plan.path.lastIndexOf('/', i - 1)) {
    const above = plan.path.slice(0, i) as SyncPath;
    const parent = call.vol.plans.byPath.get(above);
    if (parent !== undefined && parent.phase !== 'failed' && !parent.version.deleted && parent.version.type === 'directory') return above;
  }
  return null;
}

export function commitReady(call: Call): void {
  const plans = call.vol.plans;
  for (const path of plans.ready) {
    const plan = plans.byPath.get(path);
    if (plan === undefined || plan.phase !== 'ready') {
      plans.ready.delete(path);
      continue;
    }
    if (held(call, plan.path)) continue;
    const waits = waitsForTree(call, plan);
    if (waits === null) commit(call, plan);
    else if (waits !== 'below') plans.parkBelow(waits, path);
  }
}

function commit(call: Call, plan: Plan): void {
  const { path, version } = plan;
  const expect = expectAt(call.state, path);
  const op: FsOp = version.deleted
    ? { op: 'remove', path, version, expect }
    : version.type === 'directory'
      ? { op: 'makeDirectory', path, version, expect }
      : version.type === 'symlink'
        ? { op: 'makeSymlink', path, version, expect }
        : { op: 'commitFile', path, version, expect };
  plan.phase = 'committing';
  call.vol.plans.ready.delete(path);
  call.vol.plans.committing.add(path);
  call.fs(op, { kind: 'commit', path, key: plan.key, version, filesSeq: filesSeq(call, path) });
}

/**
 * Try an IMOVED as a rename: we hold the old content at the old path and
 * nothing is at the new one. Files and symlinks only: renaming a directory
 * takes everything below it along, which the entries' own IMOVEDs (or not)
 * account for one by one; a directory is simply made at the new path.
 */
export function tryMove(call: Call, m: MessageOf<'IMOVED'>): void {
  const { oldpath, newpath, tombstone, version } = m;
  const s = call.state;
  if (oldpath === newpath || tombstone.path !== oldpath || version.path !== newpath) return;
  const tOld = s.transfers.get(oldpath);
  const tNew = s.transfers.get(newpath);
  if (tOld === undefined || tNew === undefined) return;
  if (versionKey(tOld.version) !== versionKey(tombstone) || versionKey(tNew.version) !== versionKey(version)) return;
  const local = s.files.get(oldpath)?.version;
  if (local === undefined || local.deleted || local.type === 'directory' || !sameContent(local, version) || expectAt(s, newpath) !== null) return;
  if (held(call, oldpath) || held(call, newpath)) return;
  const plans = call.vol.plans;
  for (const p of [plans.byPath.get(oldpath), plans.byPath.get(newpath)]) if (p !== undefined) cancelPlan(call, p);
  for (const v of [tOld.version, tNew.version]) {
    const plan = newPlan(v);
    plan.phase = 'moving';
    plans.byPath.set(v.path, plan);
  }
  plans.committing.add(oldpath);
  plans.committing.add(newpath);
  call.fs(
    { op: 'move', from: oldpath, to: newpath, version: tNew.version, expect: local },
    {
      kind: 'move', from: oldpath, to: newpath, tombstone: tOld.version, version: tNew.version,
      keyFrom: versionKey(tOld.version), keyTo: versionKey(tNew.version), filesSeqFrom: filesSeq(call, oldpath), filesSeqTo: filesSeq(call, newpath),
    },
  );
}

const filesSeq = (call: Call, path: SyncPath): number => call.state.files.get(path)?.changedSeq ?? 0;

/**
 * The files projection at `path` moved on while our op was out (a local
 * change was observed, or a merge decided): what it says now is newer than
 * what the op put there, so the op's outcome must not be recorded over it.
 */
const overtaken = (call: Call, path: SyncPath, seqAtIssue: number): boolean => filesSeq(call, path) !== seqAtIssue;

/** The plan `key` names at `path`, if it is still the current one. */
function planFor(call: Call, path: SyncPath, key: string): Plan | undefined {
  const plan = call.vol.plans.byPath.get(path);
  return plan?.key === key ? plan : undefined;
}

export function onEffect(call: Call, rec: EffectRecord, result: EffectResult): void {
  switch (rec.kind) {
    case 'block':
      return blockDone(call, rec, result);
    case 'commit':
      return commitDone(call, rec, result);
    case 'move':
      return moveDone(call, rec, result);
    case 'serve': {
      const link = call.vol.links.get(rec.peer);
      if (link !== undefined && link.serving > 0) link.serving--;
      if (changedOnDisk(result)) rescan(call, rec.path);
      return;
    }
    case 'rescan':
      return;
  }
}

function rescan(call: Call, path: SyncPath): void {
  call.fs({ op: 'rescan', path }, { kind: 'rescan' });
}

function blockDone(call: Call, rec: Extract<EffectRecord, { kind: 'block' }>, result: EffectResult): void {
  if (rec.readFrom !== null) call.vol.plans.readsFrom(rec.readFrom, -1);
  const plan = planFor(call, rec.path, rec.key);
  if (plan === undefined || plan.phase !== 'blocks') return;
  plan.copying.delete(rec.hash);
  plan.writing.delete(rec.hash);
  if (result.ok) {
    plan.indices.delete(rec.hash);
    call.record({ type: 'BlockVerified', data: { path: rec.path, hash: rec.hash, from: rec.from, size: rec.size } });
    settle(call, plan);
    return;
  }
  if (rec.kept === true) {
    // Not in the temp file a restart left (or not all of it): copy or fetch it as usual.
    blockNotKept(call, plan, rec.hash);
    settle(call, plan);
    return;
  }
  if (rec.readFrom !== null && !changedOnDisk(result)) {
    // A local copy failed for another reason (a full disk): the whole plan is tried again later.
    return failPlan(call, plan, result.code, `copy from ${rec.readFrom}: ${result.message}`);
  }
  if (rec.readFrom !== null) {
    // A local copy failed (the source changed): fetch the block instead, and look at the source again.
    plan.noCopy.add(rec.hash);
    call.vol.plans.needs(plan, rec.hash);
    call.record({ type: 'TransferFailed', data: { path: rec.path, reason: `copy from ${rec.readFrom}: ${result.message}`, code: result.code } });
    rescan(call, rec.readFrom);
    return;
  }
  failPlan(call, plan, result.code, result.message);
}

function commitDone(call: Call, rec: Extract<EffectRecord, { kind: 'commit' }>, result: EffectResult): void {
  call.vol.plans.committing.delete(rec.path);
  call.touched.add(rec.path);
  const plan = planFor(call, rec.path, rec.key);
  if (result.ok && overtaken(call, rec.path, rec.filesSeq)) {
    // The op changed the disk (a check on `expect` that looks at content only lets a chmod
    // through), but what the index says now is newer: look again, so the two agree.
    if (plan !== undefined) call.vol.plans.byPath.delete(rec.path);
    rescan(call, rec.path);
    return;
  }
  if (result.ok) {
    if (plan !== undefined) {
      call.vol.plans.byPath.delete(rec.path);
      call.vol.skipAnnounce.set(rec.path, { key: plan.key, peers: plan.announcedBy });
    }
    call.record({ type: 'FileCommitted', data: { path: rec.path, version: rec.version } });
    return;
  }
  if (plan !== undefined) failPlan(call, plan, result.code, result.message);
  if (changedOnDisk(result)) rescan(call, rec.path);
}

function moveDone(call: Call, rec: Extract<EffectRecord, { kind: 'move' }>, result: EffectResult): void {
  const plans = call.vol.plans;
  for (const [path, key] of [[rec.from, rec.keyFrom], [rec.to, rec.keyTo]] as const) {
    plans.committing.delete(path);
    const plan = planFor(call, path, key);
    if (plan !== undefined) plans.byPath.delete(path);
    call.touched.add(path); // on failure the plans start again as ordinary transfers
  }
  if (result.ok && (overtaken(call, rec.from, rec.filesSeqFrom) || overtaken(call, rec.to, rec.filesSeqTo))) {
    rescan(call, rec.from);
    rescan(call, rec.to);
    return;
  }
  if (!result.ok) {
    call.record({ type: 'TransferFailed', data: { path: rec.to, reason: `rename from ${rec.from}: ${result.message}`, code: result.code } });
    if (changedOnDisk(result)) rescan(call, rec.from);
    return;
  }
  call.record({ type: 'FileCommitted', data: { path: rec.to, version: rec.version } });
  call.record({ type: 'FileCommitted', data: { path: rec.from, version: rec.tombstone } });
}
