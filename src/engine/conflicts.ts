/**
 * Conflicts as the engine settles them. The rules themselves (who wins, the
 * copy's name, recognising a copy) are pure functions of the versions and
 * live in projections/conflict-rules.ts, because the conflicts projection is
 * derived from them; they are re-exported here.
 *
 * Settling: the winner's vector is merged with the loser's (plus an increment
 * of the peer that settles it), so the merged winner dominates both and the
 * conflict is not detected again.
 */
import type { PeerId } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import { merge, type VersionVector } from '../core/vv.js';
import type { FileVersion } from '../events/version.js';
import { ownVector, type State } from '../projections/state.js';

export {
  conflictCopyPath, conflictStamp, copyVersionOf, needsCopy, pickWinner, pristineCopy, type Verdict,
} from '../projections/conflict-rules.js';

/**
 * Two versions with the same content, concurrent: one version whose vector is
 * the union (whoever computes it gets the same version, content included).
 */
export const unionOf = (winner: FileVersion, loser: FileVersion, path: SyncPath): FileVersion => withVector(winner, path, merge(winner.vv, loser.vv));

/**
 * The winner of a conflict as `self` keeps it: the union of both vectors plus
 * a new counter of our own (ownVector). The increment is what keeps vectors unique: a bare union
 * could be reached by two peers along different histories with different
 * winners (a three-way conflict), and two different contents under one
 * vector would never be reconciled. Peers that settle the same conflict
 * each make their own version, with identical content, which then merge
 * silently (unionOf).
 */
export const mergedWinner = (s: State, winner: FileVersion, loser: FileVersion, path: SyncPath, self: PeerId): FileVersion =>
  withVector(winner, path, ownVector(s, path, merge(winner.vv, loser.vv), self));

/**
 * `v` at `path` with vector `vv`. A literal in FileVersion's field order, not
 * `{ ...v, path, vv }`: V8 builds a spread with extra fields on a slow path,
 * and conflicts and merges make these often.
 */
function withVector(v: FileVersion, path: SyncPath, vv: VersionVector): FileVersion {
  const out: { -readonly [K in keyof FileVersion]: FileVersion[K] } = {
    path, type: v.type, mode: v.mode, size: v.size, mtimeMs: v.mtimeMs, blockSizeBytes: v.blockSizeBytes, blocks: v.blocks,
    deleted: v.deleted, vv, hlc: v.hlc, author: v.author,
  };
  if (v.target !== undefined) out.target = v.target;
  return out;
}
