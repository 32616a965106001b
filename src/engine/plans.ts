/**
 * Transfer plans: the volatile half of a transfer. The transfers projection
 * says which version each path is being brought to and from which peers; a
 * plan says, for that version, which blocks are still needed, which are being
 * copied locally, requested from whom and since when, and being written.
 *
 * Plans follow the projection: after every handle() call the engine syncs the
 * plan of each touched path with state.transfers (a new target replaces the
 * plan, a vanished one cancels it). After a restart every transfer in the
 * projection gets a fresh plan, so nothing here needs to be persisted.
 *
 * At most filePlansGatheringMax file plans gather blocks at once: a file
 * transfer beyond them waits as a path in `queued` (first come, first
 * started) until one of them is ready, fails or goes. Directories, symlinks,
 * removals and conflict copies never wait: they gather nothing, or a commit
 * waits for them (a directory's entries wait for it, a conflict's winner for
 * its copy), and a queued one could then hold everything up.
 *
 * Phases: blocks (copying/fetching/writing) -> ready (every block in the
 * temporary file, or nothing to write) -> committing (the commit op is out);
 * `moving` is an IMOVED done as a local rename; `failed` waits for the next
 * tick to start over.
 */
import type { BlockHash, PeerId } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import type { MessageOf } from '../events/messages.js';
import type { FileVersion } from '../events/version.js';
import { pristineCopy } from './conflicts.js';

export type PlanPhase = 'blocks' | 'ready' | 'committing' | 'moving' | 'failed';

export interface Plan {
  readonly path: SyncPath;
  readonly version: FileVersion;
  readonly key: string;
  phase: PlanPhase;
  /** Every distinct hash not yet written -> the block numbers it fills. */
  readonly indices: Map<BlockHash, readonly number[]>;
  /** Hashes to fetch that are not requested yet. */
  readonly need: Set<BlockHash>;
  readonly inflight: Map<BlockHash, { readonly peer: PeerId; readonly sentAtMs: number }>;
  readonly copying: Set<BlockHash>;
  readonly writing: Set<BlockHash>;
  /** Peers that failed to deliver a hash (missing, bad, late) in this round, and failures so far. */
  readonly tried: Map<BlockHash, Set<PeerId>>;
  readonly retries: Map<BlockHash, number>;
  /** Hashes whose local copy failed: fetch them instead. */
  readonly noCopy: Set<BlockHash>;
  /** Peers that announced exactly this version: announcing it back to them is pointless. */
  readonly announcedBy: Set<PeerId>;
  failedAtMs: number;
  /** Failed attempts of this version so far: each doubles the wait before the next (a version nobody can send stops costing traffic). */
  attempts: number;
}

const versionKeys = new WeakMap<FileVersion, string>();

/** The identity of a version as a transfer target (vector and stamp); remembered per version object (versions are immutable). */
export function versionKey(v: FileVersion): string {
  let key = versionKeys.get(v);
  if (key === undefined) versionKeys.set(v, (key = `${JSON.stringify(v.vv)}@${v.hlc.wallMs}.${v.hlc.counter}${v.deleted ? '-' : '+'}`));
  return key;
}

export function newPlan(version: FileVersion): Plan {
  return {
    path: version.path, version, key: versionKey(version), phase: 'blocks',
    indices: new Map(), need: new Set(), inflight: new Map(), copying: new Set(), writing: new Set(),
    tried: new Map(), retries: new Map(), noCopy: new Set(), announcedBy: new Set(), failedAtMs: 0, attempts: 0,
  };
}

/** True when nothing is left to copy, fetch or write. */
export const blocksDone = (p: Plan): boolean =>
  p.need.size === 0 && p.inflight.size === 0 && p.copying.size === 0 && p.writing.size === 0;

/** pristineCopy(v)?.path, remembered per version object (versions are immutable; a path is synced after every call that touches it). */
const conflictPaths = new WeakMap<FileVersion, SyncPath | null>();

function conflictPathOf(v: FileVersion): SyncPath | undefined {
  let p = conflictPaths.get(v);
  if (p === undefined) conflictPaths.set(v, (p = pristineCopy(v)?.path ?? null));
  return p ?? undefined;
}

/** The plans by path; every change of the plan at a path is reported to `changed` (see Plans.parkBelow and Plans.gathering). */
class PlanMap extends Map<SyncPath, Plan> {
  constructor(private readonly changed: (path: SyncPath) => void) {
    super();
  }

  override set(path: SyncPath, plan: Plan): this {
    super.set(path, plan);
    this.changed?.(path);
    return this;
  }

  override delete(path: SyncPath): boolean {
    const had = super.delete(path);
    if (had) this.changed(path);
    return had;
  }
}

/** A file transfer waiting for its plan: the version it is for, and the peers that announced that version. */
export interface QueuedTransfer {
  readonly key: string;
  readonly announcedBy: PeerId[];
}

export class Plans {
  /**
   * Ready plans held back by the plan of a directory above them (it must be
   * made first), by that directory's path. They are looked at again only when
   * the plan at that path changes, is removed or fails: with thousands of
   * files waiting for their directories, looking at every one of them after
   * every input was quadratic.
   */
  private readonly parked = new Map<SyncPath, Set<SyncPath>>();
  readonly byPath = new PlanMap((path) => {
    this.unpark(path);
    this.gathering.delete(path);
  });
  /** Paths whose file plan is in phase 'blocks' (what filePlansGatheringMax bounds). */
  readonly gathering = new Set<SyncPath>();
  /** Paths with a transfer that waits for a place among the gathering plans, oldest first. */
  readonly queued = new Map<SyncPath, QueuedTransfer>();
  /** hash -> paths whose plan still waits for it from the network (needed or in flight). */
  readonly wanted = new Map<BlockHash, Set<SyncPath>>();
  /** Local copies outstanding per source path: a commit that replaces or removes the source waits. */
  readonly pendingReads = new Map<SyncPath, number>();
  /** Plans that may have blocks to request, and plans that may be ready to commit (pruned lazily). */
  readonly hungry = new Set<SyncPath>();
  readonly ready = new Set<SyncPath>();
  /** How many plans have each hash in flight (a block asked for once serves every plan). */
  readonly requested = new Map<BlockHash, number>();
  /** Paths with a commit (or move) in flight: at most one at a time per path, so each sees the last one's result. */
  readonly committing = new Set<SyncPath>();
  /** IMOVED messages received this call, to try as local renames. */
  readonly moveHints: MessageOf<'IMOVED'>[] = [];
  /** A conflict's path -> the copy paths of it still being fetched: a commit at the path waits for them. */
  readonly copiesFor = new Map<SyncPath, Set<SyncPath>>();
  private readonly copyOf = new Map<SyncPath, SyncPath>();

  /** The transfer at `path` is now `target` (or none): keep `copiesFor` in step. */
  noteTarget(path: SyncPath, target: FileVersion | undefined): void {
    const conflictPath = target === undefined ? undefined : conflictPathOf(target);
    const before = this.copyOf.get(path);
    if (before === conflictPath) return;
    if (before !== undefined) {
      const copies = this.copiesFor.get(before);
      copies?.delete(path);
      if (copies?.size === 0) this.copiesFor.delete(before);
      this.copyOf.delete(path);
    }
    if (conflictPath !== undefined) {
      this.copyOf.set(path, conflictPath);
      let copies = this.copiesFor.get(conflictPath);
      if (copies === undefined) this.copiesFor.set(conflictPath, (copies = new Set()));
      copies.add(path);
    }
  }

  /** The transfer at `path` is a conflict copy (its target is the pristine copy of a version): it never waits in `queued`. */
  isConflictCopy(path: SyncPath): boolean {
    return this.copyOf.has(path);
  }

  /** The ready plan at `path` waits for the plan at `above`: leave it until that plan changes. */
  parkBelow(above: SyncPath, path: SyncPath): void {
    this.ready.delete(path);
    let below = this.parked.get(above);
    if (below === undefined) this.parked.set(above, (below = new Set()));
    below.add(path);
  }

  /** The plan at `path` changed (set, removed or failed): what waited for it is looked at again. */
  unpark(path: SyncPath): void {
    const below = this.parked.get(path);
    if (below === undefined) return;
    this.parked.delete(path);
    for (const p of below) this.ready.add(p);
  }

  want(plan: Plan, hash: BlockHash): void {
    let paths = this.wanted.get(hash);
    if (paths === undefined) this.wanted.set(hash, (paths = new Set()));
    paths.add(plan.path);
  }

  unwant(plan: Plan, hash: BlockHash): void {
    const paths = this.wanted.get(hash);
    paths?.delete(plan.path);
    if (paths?.size === 0) this.wanted.delete(hash);
  }

  /** `hash` of `plan` is needed from the network. */
  needs(plan: Plan, hash: BlockHash): void {
    plan.need.add(hash);
    this.want(plan, hash);
    this.hungry.add(plan.path);
  }

  requestedDelta(hash: BlockHash, delta: number): void {
    const n = (this.requested.get(hash) ?? 0) + delta;
    if (n <= 0) this.requested.delete(hash);
    else this.requested.set(hash, n);
  }

  readsFrom(path: SyncPath, delta: number): void {
    const n = (this.pendingReads.get(path) ?? 0) + delta;
    if (n <= 0) this.pendingReads.delete(path);
    else this.pendingReads.set(path, n);
  }
}
