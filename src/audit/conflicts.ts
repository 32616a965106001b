/**
 * `ploppy conflicts --json`: each open conflict with every concurrent version
 * behind it, who made each, its vector and content hash, the recorded events
 * that produced or carried it, and the rule that chose the winner.
 *
 * Theory of operation
 * - The conflicts projection keeps, per copy path, the loser and the version
 *   now at the path (the *settled* winner: after a conflict the winner takes
 *   the loser's vector, so it dominates the loser and is no longer
 *   concurrent with it). The concurrent versions themselves are found in the
 *   log: every version that appeared at the path (made here, announced, or
 *   decided on) and is concurrent with the loser. Of those, only the minimal
 *   ones are edits; the rest are merges of them. With the loser, they are the
 *   conflict's versions (three for a three-way conflict).
 * - A collector is fed the log once, in sequence order, and remembers the
 *   versions seen at the conflicts' paths and copy paths with the events
 *   behind them, so a long log is streamed, not held.
 */
import type { MessageId, PeerId } from '../core/ids.js';
import { compare } from '../core/vv.js';
import type { ConflictRule, RecordedEvent } from '../events/types.js';
import { sameContent, type FileVersion } from '../events/version.js';
import { evolve, initialState, type ConflictEntry, type State } from '../projections/state.js';
import { announcedAt, ruleText } from './story.js';
import { versionId, versionInfo, type VersionInfo } from './versions.js';

/** An event behind a version: it was made, announced, accepted, merged or committed there. */
export interface Producer {
  readonly seq: number;
  readonly type: RecordedEvent['type'];
  readonly path: string;
  readonly from?: PeerId;
  readonly message?: MessageId;
  readonly cmd?: string;
}

export interface ConflictVersion extends VersionInfo {
  /** 'winner': the content that won; 'loser': the content kept as the copy; 'concurrent': a third edit. */
  readonly role: 'winner' | 'loser' | 'concurrent';
  readonly producedBy: readonly Producer[];
}

export interface ConflictDetail extends ConflictEntry {
  readonly ruleText: string;
  /** The settled winner (what is at the path) and the loser, as the audit names versions. */
  readonly winnerInfo: VersionInfo;
  readonly loserInfo: VersionInfo;
  /** Every concurrent version, the loser first. */
  readonly versions: readonly ConflictVersion[];
  /**
   * The events that recorded or changed this conflict here: each ConflictDetected for the copy path (the
   * decision), and any other event that opened it in the conflicts projection (its copy committed here).
   */
  readonly detections: readonly { readonly seq: number; readonly type: RecordedEvent['type']; readonly from: PeerId | null; readonly rule: ConflictRule; readonly winner: VersionInfo }[];
}

interface Seen {
  readonly version: FileVersion;
  readonly producedBy: Producer[];
}

const localTypes = new Set(['LocalFileChanged', 'LocalFileDeleted', 'LocalFileMoved']);

/**
 * Collects, from a log streamed in order, the versions seen at the paths of
 * `conflicts` (conflict paths and copy paths) and the events behind them.
 */
export class ConflictCollector {
  private readonly state: State = initialState();
  private readonly paths = new Set<string>();
  private readonly seen = new Map<string, Map<string, Seen>>();
  private readonly detections = new Map<string, ConflictDetail['detections'][number][]>();

  constructor(private readonly conflicts: readonly ConflictEntry[]) {
    for (const c of conflicts) this.paths.add(c.path).add(c.copyPath);
  }

  push(e: RecordedEvent): void {
    const before = new Map<string, ConflictEntry | undefined>();
    for (const c of this.conflicts) before.set(c.copyPath, this.state.conflicts.get(c.copyPath));
    evolve(this.state, e);
    if (e.type !== 'ConflictDetected') this.noteOpened(e, before);
    for (const [path, version, producer] of this.versionsIn(e)) {
      if (!this.paths.has(path)) continue;
      const byId = this.seen.get(path) ?? new Map<string, Seen>();
      this.seen.set(path, byId);
      const id = versionId(version);
      const s = byId.get(id) ?? { version, producedBy: [] };
      byId.set(id, s);
      s.producedBy.push(producer);
    }
    if (e.type === 'ConflictDetected') this.detected(e.data.copyPath, { seq: e.seq, type: e.type, from: e.data.from, rule: e.data.rule, winner: versionInfo(e.data.winner) });
  }

  private detected(copyPath: string, d: ConflictDetail['detections'][number]): void {
    const list = this.detections.get(copyPath) ?? [];
    list.push(d);
    this.detections.set(copyPath, list);
  }

  /** A conflict the projection opened (or gave a new loser) at an event other than ConflictDetected. */
  private noteOpened(e: RecordedEvent, before: ReadonlyMap<string, ConflictEntry | undefined>): void {
    for (const [copyPath, old] of before) {
      const now = this.state.conflicts.get(copyPath);
      if (now === undefined || (old !== undefined && versionId(old.loser) === versionId(now.loser))) continue;
      const from = e.type === 'MessageReceived' ? e.data.from : null;
      this.detected(copyPath, { seq: e.seq, type: e.type, from, rule: now.rule, winner: versionInfo(now.winner) });
    }
  }

  /** The (path, version, producer) triples event `e` carries. */
  private versionsIn(e: RecordedEvent): [string, FileVersion, Producer][] {
    const at = (path: string, v: FileVersion, extra: Partial<Producer> = {}): [string, FileVersion, Producer] => [path, v, { seq: e.seq, type: e.type, path, ...extra }];
    switch (e.type) {
      case 'MessageReceived': {
        const m = e.data.message;
        const out: [string, FileVersion, Producer][] = [];
        for (const path of this.paths) for (const v of announcedAt(m, path)) out.push(at(path, v, { from: e.data.from, message: m.id, cmd: m.cmd }));
        return out;
      }
      case 'VersionAccepted':
        return [at(e.data.path, e.data.version, { from: e.data.from, message: e.data.message })];
      case 'VersionsMerged':
        return [at(e.data.path, e.data.version, { from: e.data.from })];
      case 'FileCommitted':
        return [at(e.data.path, e.data.version)];
      case 'ConflictDetected':
        return [at(e.data.path, e.data.winner, { from: e.data.from }), at(e.data.path, e.data.loser, { from: e.data.from })];
      default: {
        if (!localTypes.has(e.type)) return [];
        const out: [string, FileVersion, Producer][] = [];
        for (const path of this.paths) {
          const entry = this.state.files.get(path);
          if (entry !== undefined && entry.changedSeq === e.seq) out.push(at(path, entry.version));
        }
        return out;
      }
    }
  }

  result(): ConflictDetail[] {
    return this.conflicts.map((c) => this.detail(c));
  }

  private detail(c: ConflictEntry): ConflictDetail {
    const atPath = [...(this.seen.get(c.path)?.values() ?? [])];
    const atCopy = this.seen.get(c.copyPath)?.get(versionId(c.loser))?.producedBy ?? [];
    const loserSeen = atPath.find((s) => versionId(s.version) === versionId(c.loser));
    const concurrent = atPath.filter((s) => compare(s.version.vv, c.loser.vv) === 'concurrent');
    // Merges of concurrent edits are concurrent with the loser too; only the edits themselves count.
    const edits = concurrent.filter((s) => !concurrent.some((o) => o !== s && compare(s.version.vv, o.version.vv) === 'after'));
    const loser: ConflictVersion = { ...versionInfo(c.loser), role: 'loser', producedBy: [...(loserSeen?.producedBy ?? []), ...atCopy].sort((a, b) => a.seq - b.seq) };
    const others = edits.map((s): ConflictVersion => ({
      ...versionInfo(s.version), role: sameContent(s.version, c.winner) ? 'winner' : 'concurrent', producedBy: s.producedBy,
    }));
    return {
      ...c, ruleText: ruleText(c.rule), winnerInfo: versionInfo(c.winner), loserInfo: versionInfo(c.loser),
      versions: [loser, ...others], detections: this.detections.get(c.copyPath) ?? [],
    };
  }
}

/** Conflict details for `conflicts` from a whole log in sequence order. */
export function conflictDetails(events: Iterable<RecordedEvent>, conflicts: readonly ConflictEntry[]): ConflictDetail[] {
  const collector = new ConflictCollector(conflicts);
  for (const e of events) collector.push(e);
  return collector.result();
}
