/**
 * Planted bugs: the proof that the checkers bite. Each one breaks the system
 * the way a real bug would, from the outside of the engine (by rewriting what
 * goes into or comes out of it), so the engine carries no test hooks:
 *
 * - drop-tombstones: deletions never leave the peer (tombstones are stripped
 *   from IHAVE, IDELETED is not sent, IMOVED loses its tombstone half).
 * - no-conflict-copy: the loser of a conflict is overwritten instead of kept:
 *   a move to a `.ploppy-conflict-` name removes the file instead, and a copy
 *   the engine asks to create is never written, while the engine is told all
 *   went well.
 * - apply-duplicates: a duplicated packet arrives under a fresh message id,
 *   which is exactly what an engine that forgot its seen-ids would see.
 * - skip-hash-check: the engine's hasher vouches for blocks the network
 *   corrupted, as if the engine accepted a block without checking its hash.
 */
import type { BlockHash } from '../core/ids.js';
import type { Hasher } from '../core/ports.js';
import { PloppyError } from '../core/errors.js';
import type { FsOp } from '../engine/types.js';
import type { WireMessage } from '../events/messages.js';

export const bugNames = ['drop-tombstones', 'no-conflict-copy', 'apply-duplicates', 'skip-hash-check'] as const;
export type BugName = (typeof bugNames)[number];

export function parseBugs(list: string): BugName[] {
  if (list.trim() === '') return [];
  return list.split(',').map((raw) => {
    const name = raw.trim();
    if (!(bugNames as readonly string[]).includes(name)) {
      throw new PloppyError('USAGE', `unknown bug ${JSON.stringify(name)} (known: ${bugNames.join(', ')})`);
    }
    return name as BugName;
  });
}

const isCopyName = (p: string): boolean => p.includes('.ploppy-conflict-');

/** drop-tombstones: the message as a tombstone-forgetting engine would send it (null: not sent). */
export function withoutTombstones(msg: WireMessage): WireMessage | null {
  if (msg.cmd === 'IDELETED') return null;
  if (msg.cmd === 'IHAVE') {
    const files = msg.files.filter((f) => !f.deleted);
    return files.length === msg.files.length ? msg : { ...msg, files };
  }
  if (msg.cmd === 'IMOVED') {
    const { oldpath: _old, newpath: _new, tombstone: _t, version, ...rest } = msg;
    return { ...rest, cmd: 'IHAVE', files: [version] };
  }
  return msg;
}

/**
 * no-conflict-copy: what happens to an fs op when losers are not kept.
 * 'skip' means: do nothing and report success.
 */
export function withoutConflictCopy(op: FsOp): FsOp | 'skip' {
  if (op.op === 'move' && isCopyName(op.to)) return { op: 'remove', path: op.from, version: op.version, expect: op.expect };
  if ((op.op === 'commitFile' || op.op === 'makeSymlink' || op.op === 'writeBlock' || op.op === 'copyBlock') && isCopyName(op.path)) {
    return 'skip';
  }
  return op;
}

/** skip-hash-check: a hasher that reports the claimed hash for blocks the network corrupted. */
export class ForgingHasher implements Hasher {
  private readonly forged = new WeakMap<Uint8Array, BlockHash>();

  constructor(private readonly real: Hasher) {}

  forge(data: Uint8Array, claimed: BlockHash): void {
    this.forged.set(data, claimed);
  }

  sha256(data: Uint8Array | string): BlockHash {
    if (typeof data !== 'string') {
      const claimed = this.forged.get(data);
      if (claimed !== undefined) return claimed;
    }
    return this.real.sha256(data);
  }
}
