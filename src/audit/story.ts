/**
 * One step of a path's story: what a single recorded event means for one
 * path, in words and as data. `explain` folds the log and asks `stepFor` about
 * every event, with the projections as they were just before it (`before`,
 * the version that was current at the path) and just after (`after`).
 *
 * A step says where a version came from (our disk, or a message from a
 * neighbour, with the hops we can vouch for), and what this peer decided and
 * why, naming the rule. Everything is derived from the recorded events and
 * the fold; nothing is guessed from outside the log.
 */
import { hlcToIso } from '../core/hlc.js';
import type { MessageId, PeerId } from '../core/ids.js';
import { compare } from '../core/vv.js';
import type { LoggedMessage } from '../events/messages.js';
import type { ConflictRule, RecordedEvent } from '../events/types.js';
import { sameContent, type FileVersion } from '../events/version.js';
import { pickWinner } from '../engine/index.js';
import type { ConflictEntry, State } from '../projections/state.js';
import { describeVersion, formatVector, versionId, versionInfo, type VersionInfo } from './versions.js';

/** How a remote version reached us, as far as this peer's log can tell. */
export interface Route {
  /** Peers from the author to us; '…' marks hops this log cannot name. */
  readonly hops: readonly string[];
  readonly note: string;
}

export interface Step {
  readonly seq: number;
  /** When, on this peer's clock (the event's HLC). */
  readonly time: string;
  readonly event: RecordedEvent['type'];
  /** The step in one sentence. */
  readonly what: string;
  readonly version?: VersionInfo;
  /** versionId of `version`, to group steps by version. */
  readonly versionId?: string;
  readonly from?: PeerId;
  readonly message?: MessageId;
  readonly cmd?: LoggedMessage['cmd'];
  readonly route?: Route;
  readonly rule?: ConflictRule;
  readonly copyPath?: string;
  /** For a run of BlockVerified events folded into one step: the last sequence number. */
  readonly lastSeq?: number;
  readonly blocks?: number;
  /** For a rename (IMOVED, or a local move): the two paths. */
  readonly movedFrom?: string;
  readonly movedTo?: string;
}

/** The projections around one event, for one path. */
export interface StepContext {
  readonly path: string;
  readonly self: PeerId | null;
  /** The version at the path before the event: a transfer's target, else what is on disk. */
  readonly before: FileVersion | undefined;
  /** The state right after the event was folded. */
  readonly after: State;
  /** The input event whose decisions these are (the event itself for an input). */
  readonly input: RecordedEvent | null;
  /** Around that input: what was current at the path before it, and the version it made here (a local change). */
  readonly group: { readonly before: FileVersion | undefined; readonly sources: readonly PeerId[] | null; readonly local: FileVersion | undefined };
}

const short = (p: string): string => p.slice(0, 8);

/** Why the rule picked its winner, in words. */
export function ruleText(rule: ConflictRule): string {
  switch (rule) {
    case 'later-hlc':
      return 'the version with the later HLC stamp wins';
    case 'larger-peer-id':
      return 'equal HLC stamps: the version whose author has the larger peer id wins';
    case 'modify-beats-delete':
      return 'a modification beats a concurrent delete (no data is lost)';
    case 'directory-beats-file':
      return 'a directory beats a concurrent file (its entries could not live under a file)';
  }
}

/** The route of version `v` announced to us by `from`. */
export function routeOf(v: FileVersion, from: PeerId, ctx: StepContext): Route {
  const self = ctx.self ?? 'us';
  if (v.author === from) return { hops: [from, self], note: 'directly from its author' };
  if (v.author === ctx.self) return { hops: [self, '…', from, self], note: `our own version, announced back to us by ${short(from)}` };
  const known = ctx.after.peers.get(v.author);
  if (known?.reachability === 'indirect' && known.via === from) {
    return { hops: [v.author, from, self], note: `relayed by ${short(from)}; its author ${short(v.author)} is known to us through ${short(from)} (ICANSEE/IKNOWABOUT)` };
  }
  return { hops: [v.author, '…', from, self], note: `relayed by ${short(from)}; the hops between its author ${short(v.author)} and ${short(from)} are not in this log` };
}

const base = (e: RecordedEvent, what: string): Step => ({ seq: e.seq, time: hlcToIso(e.hlc), event: e.type, what });

const withVersion = (step: Step, v: FileVersion): Step => ({ ...step, version: versionInfo(v), versionId: versionId(v) });

/** The versions a received message announces at `path`. */
export function announcedAt(m: LoggedMessage, path: string): FileVersion[] {
  switch (m.cmd) {
    case 'IHAVE':
      return m.files.filter((f) => f.path === path);
    case 'IDELETED':
      return m.version.path === path ? [m.version] : [];
    case 'IMOVED':
      return [m.tombstone, m.version].filter((v) => v.path === path);
    default:
      return [];
  }
}

function messageSteps(e: RecordedEvent & { type: 'MessageReceived' }, ctx: StepContext): Step[] {
  const { from, message: m } = e.data;
  const out: Step[] = [];
  for (const v of announcedAt(m, ctx.path)) {
    const route = routeOf(v, from, ctx);
    const moved = m.cmd === 'IMOVED' ? { movedFrom: m.oldpath, movedTo: m.newpath } : {};
    const rename = m.cmd === 'IMOVED' ? ` (a rename ${m.oldpath} -> ${m.newpath})` : '';
    const step = { ...base(e, `${m.cmd} from ${short(from)}${rename}: ${describeVersion(v)}; ${route.note}`), from, message: m.id, cmd: m.cmd, route, ...moved };
    out.push(withVersion(step, v));
  }
  if (m.cmd === 'RESOLVED' && (m.path === ctx.path || m.copyPath === ctx.path)) {
    out.push({ ...base(e, `RESOLVED from ${short(from)}: ${short(m.by)} settled the conflict of ${m.path} (copy ${m.copyPath}), keeping ${m.keep}`), from, message: m.id, cmd: m.cmd, copyPath: m.copyPath });
  }
  if (m.cmd === 'DONTHAVE') {
    const t = ctx.after.transfers.get(ctx.path);
    const missing = t === undefined ? [] : m.hashes.filter((h) => t.version.blocks.includes(h));
    if (missing.length > 0) {
      out.push({ ...base(e, `DONTHAVE from ${short(from)}: it does not have block ${missing.map((h) => h.slice(0, 12)).join(', ')}`), from, message: m.id, cmd: m.cmd });
    }
  }
  return out;
}

interface Pair {
  readonly ours: FileVersion;
  readonly theirs: FileVersion;
  /** Who had theirs: the announcer, or the sources of the transfer a local change met. */
  readonly sender: string;
}

/**
 * The two concurrent versions the input brought together, if it did: a
 * version announced against what we had, or a local change made while a
 * transfer of another version was under way.
 */
function concurrentPair(ctx: StepContext): Pair | undefined {
  const { before, sources, local } = ctx.group;
  if (before === undefined || ctx.input === null) return undefined;
  if (ctx.input.type === 'MessageReceived') {
    const theirs = announcedAt(ctx.input.data.message, ctx.path).find((r) => compare(r.vv, before.vv) === 'concurrent');
    return theirs === undefined ? undefined : { ours: before, theirs, sender: short(ctx.input.data.from) };
  }
  if (sources !== null && local !== undefined && compare(local.vv, before.vv) === 'concurrent') {
    return { ours: local, theirs: before, sender: sources.length > 0 ? sources.map(short).join(', ') : 'the transfer' };
  }
  return undefined;
}

/** `ours` and `theirs` were concurrent: which won, by which rule. */
function verdictText(ours: FileVersion, theirs: FileVersion): string {
  if (sameContent(ours, theirs)) return `concurrent with ours ({${formatVector(ours.vv)}}) but identical in content, so merged silently`;
  const { winner, rule } = pickWinner(ours, theirs);
  return `concurrent with ours ({${formatVector(ours.vv)}}); ${ruleText(rule)} (${rule}), so ${winner === ours ? 'ours' : 'theirs'} wins`;
}

/** Why a version was accepted, judged against what was current before. */
function acceptedWhy(v: FileVersion, from: PeerId, ctx: StepContext): string {
  const src = from === ctx.self ? 'our own disk' : short(from);
  if (from === ctx.self) return `accepted a version made here (resolve): ${describeVersion(v)}`;
  const b = ctx.before;
  if (b === undefined) return `accepted: the first version of this path we heard of; fetching it from ${src}`;
  const pair = concurrentPair(ctx);
  if (pair !== undefined) return `accepted: ${pair.sender}'s {${formatVector(pair.theirs.vv)}} was ${verdictText(pair.ours, pair.theirs)}; fetching the settled winner {${formatVector(v.vv)}} from ${src}`;
  switch (compare(v.vv, b.vv)) {
    case 'after':
      if (b.deleted && !v.deleted) return `accepted: newer than our delete ({${formatVector(b.vv)}} is in its vector), so the file comes back; fetching from ${src}`;
      return `accepted: newer than what we had ({${formatVector(b.vv)}} happened before it); fetching from ${src}`;
    case 'equal':
      return `${src} has the version we are fetching too: added as a source`;
    case 'concurrent':
      return `accepted as the settled winner of concurrent versions (vectors merged); fetching from ${src}`;
    case 'before':
      return `accepted from ${src}`;
  }
}

function decisionStep(e: RecordedEvent, ctx: StepContext): Step | null {
  switch (e.type) {
    case 'VersionAccepted': {
      if (e.data.path !== ctx.path) return null;
      const step = { ...base(e, acceptedWhy(e.data.version, e.data.from, ctx)), from: e.data.from, message: e.data.message };
      return withVersion(step, e.data.version);
    }
    case 'VersionSuperseded': {
      if (e.data.path !== ctx.path) return null;
      const b = ctx.before === undefined ? '' : ` ({${formatVector(ctx.before.vv)}})`;
      const pair = concurrentPair(ctx);
      const onDisk = ctx.after.files.get(ctx.path)?.version;
      const lost = pair !== undefined
        ? `dropped: ${pair.sender}'s {${formatVector(pair.theirs.vv)}} was ${verdictText(pair.ours, pair.theirs)}`
        : `dropped: it lost a conflict to the version on disk${onDisk === undefined ? '' : ` ({${formatVector(onDisk.vv)}})`}`;
      const why = e.data.reason === 'older' ? `ignored: older than what we have${b}` : e.data.reason === 'equal' ? `ignored: the same version as ours${b}` : lost;
      return withVersion({ ...base(e, `${why}; announced by ${short(e.data.from)}`), from: e.data.from, message: e.data.message }, e.data.version);
    }
    case 'VersionsMerged': {
      if (e.data.path !== ctx.path) return null;
      const pair = concurrentPair(ctx);
      const why = pair !== undefined
        ? `${pair.sender}'s version {${formatVector(pair.theirs.vv)}} was ${verdictText(pair.ours, pair.theirs)}`
        : e.data.from === ctx.self ? 'here, after a conflict (the winner takes the loser\'s vector)' : `with ${short(e.data.from)}'s version`;
      return withVersion({ ...base(e, `vectors merged: ${why}; now {${formatVector(e.data.version.vv)}}`), from: e.data.from }, e.data.version);
    }
    case 'ConflictDetected': {
      const { path, copyPath, winner, loser, rule, from } = e.data;
      if (path !== ctx.path && copyPath !== ctx.path) return null;
      const text = path === ctx.path
        ? `conflict: ${describeVersion(loser)} is concurrent with ${describeVersion(winner)}; ${ruleText(rule)} (${rule}), so the loser is kept as ${copyPath}`
        : `this path is the conflict copy of ${path}: it keeps the losing version ${describeVersion(loser)} (${rule})`;
      return withVersion({ ...base(e, text), from, rule, copyPath }, path === ctx.path ? winner : { ...loser, path: copyPath });
    }
    case 'ConflictResolved': {
      const { path, copyPath, keep, by } = e.data;
      if (path !== ctx.path && copyPath !== ctx.path) return null;
      return { ...base(e, `conflict of ${path} (copy ${copyPath}) resolved by ${short(by)}: keep ${keep}`), from: by, copyPath };
    }
    default:
      return null;
  }
}

function localStep(e: RecordedEvent, ctx: StepContext): Step | null {
  const entry = ctx.after.files.get(ctx.path);
  const made = entry !== undefined && entry.changedSeq === e.seq ? entry.version : undefined;
  switch (e.type) {
    case 'LocalFileChanged':
      if (e.data.path !== ctx.path) return null;
      if (made !== undefined) return withVersion(base(e, `changed on this peer's disk: new version ${describeVersion(made)}`), made);
      return base(e, 'seen on disk unchanged (or the version being fetched, landed)');
    case 'LocalFileDeleted':
      if (e.data.path !== ctx.path || made === undefined) return null;
      return withVersion(base(e, `deleted on this peer's disk: tombstone ${describeVersion(made)}`), made);
    case 'LocalFileMoved':
      if (made === undefined) return null;
      const moved = { movedFrom: e.data.from, movedTo: e.data.to };
      if (e.data.from === ctx.path) return withVersion({ ...base(e, `renamed on this peer's disk to ${e.data.to}: tombstone ${describeVersion(made)}`), ...moved }, made);
      if (e.data.to === ctx.path) return withVersion({ ...base(e, `renamed on this peer's disk from ${e.data.from}: new version ${describeVersion(made)}`), ...moved }, made);
      return null;
    case 'ResolveRequested':
      return e.data.path === ctx.path ? base(e, `resolve asked for here: keep ${e.data.keep}`) : null;
    default:
      return null;
  }
}

function outcomeStep(e: RecordedEvent, ctx: StepContext): Step | null {
  switch (e.type) {
    case 'FileCommitted':
      if (e.data.path !== ctx.path) return null;
      return withVersion(base(e, `${e.data.version.deleted ? 'removed from' : 'written to'} this peer's disk: ${describeVersion(e.data.version)}`), e.data.version);
    case 'TransferFailed':
      return e.data.path === ctx.path ? base(e, `transfer failed (${e.data.code}): ${e.data.reason}`) : null;
    case 'BlockRejected':
      return e.data.path === ctx.path ? { ...base(e, `block ${e.data.hash.slice(0, 12)} from ${short(e.data.from)} rejected: ${e.data.reason}`), from: e.data.from } : null;
    case 'BlockVerified':
      return e.data.path === ctx.path ? { ...base(e, 'blocks verified and written: 1'), blocks: 1, lastSeq: e.seq } : null;
    default:
      return null;
  }
}

/**
 * Conflicts entries about the path that event `e` opened, changed or closed
 * without being a ConflictDetected/ConflictResolved itself: the conflicts
 * projection follows the files (a pristine conflict copy committed here opens
 * its conflict; one deleted or edited closes it), so a peer may learn of a
 * conflict from its copy alone.
 */
export function conflictSteps(e: RecordedEvent, path: string, before: ReadonlyMap<string, ConflictEntry>, after: State): Step[] {
  if (e.type === 'ConflictDetected' || e.type === 'ConflictResolved') return [];
  const out: Step[] = [];
  for (const c of after.conflicts.values()) {
    if (c.path !== path && c.copyPath !== path) continue;
    const old = before.get(c.copyPath);
    if (old !== undefined && versionId(old.loser) === versionId(c.loser)) continue;
    const text = versionId(c.winner) === versionId(c.loser)
      ? `conflict recorded from its copy ${c.copyPath} now here: it keeps the losing version ${describeVersion(c.loser)}; the winner has not reached this path yet`
      : `conflict recorded from its copy ${c.copyPath} now here: ${describeVersion(c.loser)} lost to ${describeVersion(c.winner)}; ${ruleText(c.rule)} (${c.rule})`;
    out.push(withVersion({ ...base(e, text), rule: c.rule, copyPath: c.copyPath }, c.path === path ? c.winner : { ...c.loser, path: c.copyPath }));
  }
  for (const c of before.values()) {
    if (!after.conflicts.has(c.copyPath)) out.push({ ...base(e, `conflict of ${c.path} over: its copy ${c.copyPath} was removed, edited or adopted`), copyPath: c.copyPath });
  }
  return out;
}

/** The conflicts entries that concern `path` (as the conflict's path or its copy). */
export function conflictsAbout(s: State, path: string): Map<string, ConflictEntry> {
  const out = new Map<string, ConflictEntry>();
  for (const c of s.conflicts.values()) if (c.path === path || c.copyPath === path) out.set(c.copyPath, c);
  return out;
}

/** What event `e` means for the path (several steps for a message announcing several versions). */
export function stepsFor(e: RecordedEvent, ctx: StepContext): Step[] {
  if (e.type === 'MessageReceived') return messageSteps(e, ctx);
  const step = decisionStep(e, ctx) ?? localStep(e, ctx) ?? outcomeStep(e, ctx);
  return step === null ? [] : [step];
}

/** Fold a run of BlockVerified steps into one (a large file has thousands of blocks). */
export function appendStep(steps: Step[], step: Step): void {
  const last = steps[steps.length - 1];
  if (step.event === 'BlockVerified' && last?.event === 'BlockVerified') {
    const blocks = (last.blocks ?? 1) + 1;
    steps[steps.length - 1] = { ...last, blocks, lastSeq: step.seq, what: `blocks verified and written: ${blocks} (seq ${last.seq}..${step.seq})` };
    return;
  }
  steps.push(step);
}
