/**
 * Transfers: bringing a path to the version the projection says it should
 * have, block by block (DESIGN.md, "Blocks"; issue 3).
 *
 * Theory of operation
 * - A plan starts when state.transfers gets a new target (VersionAccepted),
 *   or, for a file, later when filePlansGatheringMax plans are gathering
 *   already: it waits in plans.queued until one of them is ready, fails or
 *   goes (see plans.ts). Each distinct block hash is either copied from a
 *   local file that holds it (the block index) or fetched from the network.
 * - Fetching is pipelined: up to requestWindowBlocks requests per plan and
 *   outstandingRequestsPerPeerMax per peer are in flight, and each request
 *   goes to the least-loaded connected source that has not failed that block
 *   yet, so a transfer draws on every peer that announced the version at
 *   once. A block that is missing (DONTHAVE), late (requestTimeoutMs) or bad
 *   (hash or length mismatch: BlockRejected) is asked of another source;
 *   after blockRetriesMax failures the plan fails (TransferFailed) and starts
 *   over on a later tick.
 * - A block reaches the disk only after its hash was checked here; the
 *   driver's writeBlock/copyBlock outcome is recorded as BlockVerified.
 * - When every block is written the plan is ready and commits (commitFile,
 *   makeDirectory, makeSymlink or remove, with `expect` = what the files
 *   projection says is on disk). A commit waits while local copies still read
 *   from its path, and while a conflict at its path still waits for its copy,
 *   so a conflict's loser is never overwritten before it is kept aside.
 * - The commit's outcome is recorded: FileCommitted, or TransferFailed (and a
 *   rescan when the file changed on disk, so we decide again on what is there).
 */
import { blockLength } from '../core/blocks.js';
import { blockRetriesMax, filePlansGatheringMax, outstandingRequestsPerPeerMax, pingIntervalMs, requestTimeoutMs, requestWindowBlocks } from '../core/constants.js';
import type { BlockHash, PeerId } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import type { FileVersion } from '../events/version.js';
import type { State } from '../projections/state.js';
import { consistentBlocks } from './block-index.js';
import type { Call } from './context.js';
import { blocksDone, newPlan, versionKey, type Plan } from './plans.js';
import { relistAll } from './discovery.js';
import { sendWants } from './serve.js';
import type { FsOp } from './types.js';

/** What the files projection says is on disk at `path` (a tombstone means nothing). */
export function expectAt(s: State, path: SyncPath): FileVersion | null {
  const v = s.files.get(path)?.version;
  return v === undefined || v.deleted ? null : v;
}

/** Bring the plan at `path` in line with state.transfers. */
export function syncPlan(call: Call, path: SyncPath): void {
  const plans = call.vol.plans;
  const t = call.state.transfers.get(path);
  plans.noteTarget(path, t?.version);
  const plan = plans.byPath.get(path);
  if (plan !== undefined && t !== undefined && (plan.version === t.version || plan.key === versionKey(t.version))) return;
  if (plan !== undefined) cancelPlan(call, plan);
  if (t === undefined) plans.queued.delete(path);
  else if (mustWait(call, t.version)) queue(call, t.version);
  else startPlan(call, t.version);
}

/**
 * Queue (or keep queued) the transfer to `version`, remembering who announced
 * that very version in this call: a live plan learns that from the engine
 * (Plan.announcedBy), a queued transfer has no plan yet.
 */
function queue(call: Call, version: FileVersion): void {
  const queued = call.vol.plans.queued;
  const key = versionKey(version);
  let q = queued.get(version.path);
  if (q === undefined || q.key !== key) queued.set(version.path, (q = { key, announcedBy: [] }));
  for (const a of announcementsIn(call).get(version.path) ?? []) {
    if (a.key === key && !q.announcedBy.includes(a.from)) q.announcedBy.push(a.from);
  }
}

/** Call.announcedBy by path, built once per call (a LIST answer announces thousands of paths in one call). */
const announcementsByCall = new WeakMap<Call, Map<SyncPath, { from: PeerId; key: string }[]>>();

function announcementsIn(call: Call): ReadonlyMap<SyncPath, readonly { from: PeerId; key: string }[]> {
  let byPath = announcementsByCall.get(call);
  if (byPath === undefined) {
    byPath = new Map();
    for (const a of call.announcedBy) {
      const list = byPath.get(a.path);
      if (list === undefined) byPath.set(a.path, [a]);
      else list.push(a);
    }
    announcementsByCall.set(call, byPath);
  }
  return byPath;
}

/** A file transfer waits while the gathering plans are at their bound, or others wait before it. */
function mustWait(call: Call, version: FileVersion): boolean {
  const plans = call.vol.plans;
  if (version.deleted || version.type !== 'file' || plans.isConflictCopy(version.path)) return false;
  return plans.queued.size > 0 || plans.gathering.size >= filePlansGatheringMax;
}

/** Start queued transfers, oldest first, while fewer than filePlansGatheringMax plans gather. */
function startQueued(call: Call): void {
  const plans = call.vol.plans;
  // Checked before iterating too: pump runs this at the end of every call, and reaching the
  // first queued entry means skipping every one deleted before it (a Map keeps their slots).
  if (plans.gathering.size >= filePlansGatheringMax) return;
  for (const [path, q] of plans.queued) {
    if (plans.gathering.size >= filePlansGatheringMax) return;
    plans.queued.delete(path);
    const t = call.state.transfers.get(path);
    // Gone meanwhile, or a plan was made there another way (a move done as a rename).
    if (t === undefined || plans.byPath.has(path)) continue;
    const plan = startPlan(call, t.version);
    if (plan.key === q.key) for (const peer of q.announcedBy) plan.announcedBy.add(peer);
  }
}

export function cancelPlan(call: Call, plan: Plan): void {
  const plans = call.vol.plans;
  cancelRequests(call, plan);
  if (plans.byPath.get(plan.path) === plan) plans.byPath.delete(plan.path);
}

function releaseRequest(call: Call, peer: PeerId): void {
  const link = call.vol.links.get(peer);
  if (link !== undefined && link.requests > 0) link.requests--;
}

export function startPlan(call: Call, version: FileVersion): Plan {
  const plans = call.vol.plans;
  const resumed = call.vol.resumable.delete(version.path);
  const plan = newPlan(version);
  plans.byPath.set(version.path, plan);
  if (version.deleted || version.type !== 'file') {
    plan.phase = 'ready';
    plans.ready.add(plan.path);
    return plan;
  }
  if (!consistentBlocks(version)) {
    plan.phase = 'failed';
    plan.failedAtMs = call.nowMs;
    return plan;
  }
  plans.gathering.add(plan.path);
  version.blocks.forEach((hash, i) => plan.indices.set(hash, [...(plan.indices.get(hash) ?? []), i]));
  for (const hash of plan.indices.keys()) {
    if (resumed) keepFromTemp(call, plan, hash);
    else if (!copyLocally(call, plan, hash)) toFetch(call, plan, hash);
  }
  settle(call, plan);
  return plan;
}

/**
 * A transfer a restart interrupted: its temp file may hold blocks already
 * (rsync --partial, Syncthing's reuse of temp files). Each distinct block is
 * looked for there first; one that is not there is copied or fetched as usual
 * (blockNotKept).
 */
function keepFromTemp(call: Call, plan: Plan, hash: BlockHash): void {
  const indices = plan.indices.get(hash) ?? [];
  const size = blockLength(plan.version.size, plan.version.blockSizeBytes, indices[0] ?? 0);
  plan.copying.add(hash);
  call.fs({ op: 'keepBlock', path: plan.path, version: plan.version, indices, hash }, { kind: 'block', path: plan.path, key: plan.key, hash, from: null, size, readFrom: null, kept: true });
}

/** A block was not in the temp file after all: copy it from a local file, or fetch it. */
export function blockNotKept(call: Call, plan: Plan, hash: BlockHash): void {
  if (!copyLocally(call, plan, hash)) toFetch(call, plan, hash);
}

function toFetch(call: Call, plan: Plan, hash: BlockHash): void {
  call.vol.plans.needs(plan, hash);
}

function copyLocally(call: Call, plan: Plan, hash: BlockHash): boolean {
  if (plan.noCopy.has(hash)) return false;
  const at = call.vol.blocks.find(hash);
  if (at === null) return false;
  plan.copying.add(hash);
  call.vol.plans.readsFrom(at.path, 1);
  const op: FsOp = {
    op: 'copyBlock', path: plan.path, version: plan.version, indices: plan.indices.get(hash) ?? [], hash,
    fromPath: at.path, fromOffset: at.offset, length: at.length,
  };
  call.fs(op, { kind: 'block', path: plan.path, key: plan.key, hash, from: null, size: at.length, readFrom: at.path });
  return true;
}

/** Connected peers (not us) that can serve this plan's version. */
function sourcesOf(call: Call, plan: Plan): PeerId[] {
  const t = call.state.transfers.get(plan.path);
  if (t === undefined) return [];
  return t.sources.filter((p) => p !== call.state.meta.self && call.vol.links.get(p)?.closing === false);
}

const announcedOnlyByUs = (call: Call, plan: Plan): boolean =>
  call.state.transfers.get(plan.path)?.sources.every((p) => p === call.state.meta.self) === true;

/** Start what the queue lets start, then issue block requests for every plan, within the per-plan window and the per-peer limit. */
export function pump(call: Call): void {
  const plans = call.vol.plans;
  if (plans.queued.size > 0) startQueued(call);
  if (plans.hungry.size === 0) return; // nothing waits for a request (most calls)
  const batches = new Map<PeerId, BlockHash[]>();
  const spare = (): boolean => [...call.vol.links.values()].some((l) => !l.closing && l.requests < outstandingRequestsPerPeerMax);
  if (!spare()) return;
  for (const path of plans.hungry) {
    const plan = plans.byPath.get(path);
    if (plan === undefined || plan.phase !== 'blocks' || plan.need.size === 0) {
      plans.hungry.delete(path);
      continue;
    }
    const sources = sourcesOf(call, plan);
    if (sources.length === 0) {
      // Only we announced it (a loser of ours being kept, a version `resolve` made) and the local
      // copy failed: the content changed here and nobody can be asked for it.
      if (announcedOnlyByUs(call, plan)) failPlan(call, plan, 'BLOCK_UNAVAILABLE', 'the local copy failed and no peer has it');
      continue;
    }
    let budget = requestWindowBlocks - plan.inflight.size;
    for (const hash of [...plan.need]) {
      if (budget <= 0) break;
      if (plans.requested.has(hash)) continue; // another plan asked: its HEREIS serves both
      const peer = choosePeer(call, plan, hash, sources);
      if (peer === null) {
        if (!spare()) return flushWants(call, batches);
        break;
      }
      plan.need.delete(hash);
      markInflight(call, plan, hash, peer);
      batches.set(peer, [...(batches.get(peer) ?? []), hash]);
      budget--;
    }
  }
  flushWants(call, batches);
}

function flushWants(call: Call, batches: ReadonlyMap<PeerId, readonly BlockHash[]>): void {
  for (const [peer, hashes] of batches) sendWants(call, peer, hashes);
}

function markInflight(call: Call, plan: Plan, hash: BlockHash, peer: PeerId): void {
  plan.inflight.set(hash, { peer, sentAtMs: call.nowMs });
  call.vol.plans.requestedDelta(hash, 1);
  const link = call.vol.links.get(peer);
  if (link !== undefined) link.requests++;
}

/** Forget the request for `hash` (answered, failed, or its peer gone). */
function clearInflight(call: Call, plan: Plan, hash: BlockHash, release: boolean): void {
  const req = plan.inflight.get(hash);
  if (req === undefined) return;
  plan.inflight.delete(hash);
  call.vol.plans.requestedDelta(hash, -1);
  if (release) releaseRequest(call, req.peer);
}

function choosePeer(call: Call, plan: Plan, hash: BlockHash, sources: readonly PeerId[]): PeerId | null {
  let tried = plan.tried.get(hash);
  if (tried !== undefined && sources.every((p) => tried?.has(p))) {
    plan.tried.delete(hash); // every source failed once: go round again (retries are bounded)
    tried = undefined;
  }
  let best: PeerId | null = null;
  let bestLoad = outstandingRequestsPerPeerMax;
  for (const p of sources) {
    const load = call.vol.links.get(p)?.requests ?? outstandingRequestsPerPeerMax;
    if (tried?.has(p) || load >= bestLoad) continue;
    best = p;
    bestLoad = load;
  }
  return best;
}

/** A request for `hash` in `plan` failed at `peer` (missing, late or bad): try elsewhere, or give up. */
export function failRequest(call: Call, plan: Plan, hash: BlockHash, peer: PeerId, code: string, reason: string): void {
  clearInflight(call, plan, hash, true);
  plan.tried.set(hash, (plan.tried.get(hash) ?? new Set()).add(peer));
  const retries = (plan.retries.get(hash) ?? 0) + 1;
  plan.retries.set(hash, retries);
  if (retries > blockRetriesMax) return failPlan(call, plan, code, `block ${hash.slice(0, 12)}: ${reason} (${retries} tries)`);
  call.vol.plans.needs(plan, hash);
}

/** Wait before attempt n + 1 of a failed transfer: one tick, doubling up to 8 ticks. */
const retryDelayMs = (attempts: number): number => pingIntervalMs * 2 ** Math.min(Math.max(0, attempts - 1), 3);

/** A link came up: failed transfers get their next attempt at the next tick. */
export function onPeerUp(call: Call): void {
  for (const plan of call.vol.plans.byPath.values()) if (plan.phase === 'failed') plan.attempts = 0;
}

export function failPlan(call: Call, plan: Plan, code: string, reason: string): void {
  cancelRequests(call, plan);
  plan.phase = 'failed';
  plan.failedAtMs = call.nowMs;
  plan.attempts++;
  call.vol.plans.gathering.delete(plan.path);
  call.vol.plans.unpark(plan.path);
  const events = call.record({ type: 'TransferFailed', data: { path: plan.path, reason, code } });
  // An abandoned target (abandonTarget) may have pushed aside versions our neighbours still hold there.
  if (events.some((e) => e.type === 'VersionSuperseded' && e.data.reason === 'lost')) relistAll(call);
}

function cancelRequests(call: Call, plan: Plan): void {
  for (const hash of [...plan.need, ...plan.inflight.keys()]) call.vol.plans.unwant(plan, hash);
  for (const hash of [...plan.inflight.keys()]) clearInflight(call, plan, hash, true);
  plan.need.clear();
}

/** A HEREIS arrived: check it, then write it into every plan that wants it. */
export function onBlock(call: Call, from: PeerId, hash: BlockHash, data: Uint8Array): void {
  const paths = call.vol.plans.wanted.get(hash);
  if (paths === undefined) return; // unsolicited, or already satisfied by another source
  const hashOk = call.core.deps.hasher.sha256(data) === hash;
  let rejected = false;
  for (const path of [...paths]) {
    const plan = call.vol.plans.byPath.get(path);
    if (plan === undefined || plan.phase !== 'blocks') continue;
    const indices = plan.indices.get(hash) ?? [];
    const lengthOk = indices.length > 0 && indices.every((i) => blockLength(plan.version.size, plan.version.blockSizeBytes, i) === data.byteLength);
    if (!hashOk || !lengthOk) {
      if (plan.inflight.get(hash)?.peer !== from) continue;
      const reason = hashOk ? `length ${data.byteLength} does not match the version` : 'hash mismatch';
      if (!rejected) call.record({ type: 'BlockRejected', data: { path, hash, from, reason } });
      rejected = true;
      failRequest(call, plan, hash, from, 'BLOCK_HASH_MISMATCH', reason);
      continue;
    }
    write(call, plan, hash, indices, from, data);
  }
}

function write(call: Call, plan: Plan, hash: BlockHash, indices: readonly number[], from: PeerId, data: Uint8Array): void {
  clearInflight(call, plan, hash, true);
  plan.need.delete(hash);
  call.vol.plans.unwant(plan, hash);
  plan.writing.add(hash);
  const op: FsOp = { op: 'writeBlock', path: plan.path, version: plan.version, indices, hash, data };
  call.fs(op, { kind: 'block', path: plan.path, key: plan.key, hash, from, size: data.byteLength, readFrom: null });
}

export function onDontHave(call: Call, from: PeerId, hashes: readonly BlockHash[]): void {
  for (const hash of hashes) {
    for (const path of [...(call.vol.plans.wanted.get(hash) ?? [])]) {
      const plan = call.vol.plans.byPath.get(path);
      if (plan?.inflight.get(hash)?.peer === from) failRequest(call, plan, hash, from, 'BLOCK_UNAVAILABLE', 'peer does not have it');
    }
  }
}

/** A link went down: its outstanding requests go back to be asked elsewhere (no retry counted). */
export function onPeerGone(call: Call, peer: PeerId): void {
  for (const plan of call.vol.plans.byPath.values()) {
    for (const [hash, req] of [...plan.inflight]) {
      if (req.peer !== peer) continue;
      clearInflight(call, plan, hash, false);
      call.vol.plans.needs(plan, hash);
    }
  }
}

/** Late requests count as failures; failed plans start over (when there is room among the gathering ones). */
export function onTick(call: Call): void {
  const plans = call.vol.plans;
  for (const plan of [...plans.byPath.values()]) {
    if (plan.phase === 'failed' && call.nowMs - plan.failedAtMs >= retryDelayMs(plan.attempts)) {
      if (plans.gathering.size >= filePlansGatheringMax) continue;
      cancelPlan(call, plan);
      const t = call.state.transfers.get(plan.path);
      if (t !== undefined) {
        const fresh = startPlan(call, t.version);
        if (fresh.key === plan.key) fresh.attempts = plan.attempts;
      }
      continue;
    }
    for (const [hash, req] of [...plan.inflight]) {
      if (call.nowMs - req.sentAtMs >= requestTimeoutMs) failRequest(call, plan, hash, req.peer, 'BLOCK_UNAVAILABLE', 'request timed out');
    }
  }
}

/** Mark a plan whose blocks are all written as ready. */
export function settle(call: Call, plan: Plan): void {
  if (plan.phase !== 'blocks' || !blocksDone(plan)) return;
  plan.phase = 'ready';
  call.vol.plans.gathering.delete(plan.path);
  call.vol.plans.ready.add(plan.path);
}
