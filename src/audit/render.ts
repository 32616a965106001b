/**
 * Text forms of the audit results, for people (scripts use --json). Kept
 * apart from the CLI modules so tests can pin the exact text.
 */
import type { ConflictDetail } from './conflicts.js';
import type { StateDiff } from './diff.js';
import type { Explanation } from './explain.js';
import type { ImportReport } from './ndjson.js';
import { describeVersion } from './versions.js';

export function explanationText(x: Explanation): string {
  const lines: string[] = [`${x.path} on ${x.self?.slice(0, 8) ?? 'this peer'}, as of seq ${x.head}`];
  if (x.status === null) lines.push('now: unknown to this peer');
  else lines.push(`now: ${x.status.state}${x.current === null ? '' : ` - ${describeVersion(x.current)} (since seq ${x.changedSeq ?? '-'})`}`);
  if (x.deleted !== null) {
    const how = x.deleted.renamedTo === null ? 'deleted' : `renamed to ${x.deleted.renamedTo}`;
    lines.push(`${how} by ${x.deleted.by.slice(0, 8)}${x.deleted.here ? ' (this peer)' : ''} at ${x.deleted.time} (seq ${x.deleted.seq})`);
  }
  for (const c of x.conflicts) lines.push(`open conflict: ${c.path} kept ${c.copyPath} (${c.rule}, seq ${c.detectedSeq})`);
  if (x.notInSync.length > 0) lines.push('not in sync:', ...x.notInSync.map((r) => `  ${r}`));
  lines.push('', 'how it got here:');
  if (x.steps.length === 0) lines.push('  (no event in this log concerns this path)');
  for (const s of x.steps) lines.push(`  #${String(s.seq).padEnd(6)} ${s.time}  ${s.what}`);
  if (x.versions.length > 0) {
    lines.push('', 'versions:');
    for (const v of x.versions) {
      const senders = [...new Set(v.arrivals.map((a) => a.from.slice(0, 8)))].join(', ');
      const arrived = v.origin === 'remote'
        ? `from ${senders} (first #${v.firstSeq})`
        : `${v.origin} (#${v.firstSeq})${senders === '' ? '' : `, announced back by ${senders}`}`;
      lines.push(`  ${v.relation.padEnd(22)} ${describeVersion(v.version)}; ${arrived}`);
    }
  }
  return lines.join('\n');
}

export function conflictsText(conflicts: readonly ConflictDetail[]): string {
  if (conflicts.length === 0) return 'no conflicts';
  const lines: string[] = [];
  for (const c of conflicts) {
    lines.push(`${c.path}: loser kept as ${c.copyPath}`, `  rule: ${c.rule} (${c.ruleText}), detected at seq ${c.detectedSeq}`);
    for (const v of c.versions) {
      const seqs = v.producedBy.map((p) => `#${p.seq} ${p.type}${p.cmd === undefined ? '' : ` ${p.cmd}`}${p.from === undefined ? '' : ` from ${p.from.slice(0, 8)}`}`);
      lines.push(`  ${v.role.padEnd(10)} ${describeVersion(v)}`, `             events: ${seqs.length === 0 ? '(none in this log)' : seqs.join(', ')}`);
    }
  }
  return lines.join('\n');
}

export function diffText(d: StateDiff): string {
  const lines = [`from seq ${d.from} to seq ${d.to}: ${d.added.length} added, ${d.changed.length} changed, ${d.deleted.length} deleted`];
  for (const e of d.added) lines.push(`  + ${e.path}  ${e.after === null ? '' : describeVersion(e.after)} (seq ${e.changedSeq})`);
  for (const e of d.changed) lines.push(`  ~ ${e.path}  ${e.contentChanged === true ? 'content changed' : 'vector only'}: ${e.after === null ? '' : describeVersion(e.after)} (seq ${e.changedSeq})`);
  for (const e of d.deleted) lines.push(`  - ${e.path}  ${e.after === null ? 'gone' : `deleted by ${e.after.author.slice(0, 8)} at ${e.after.time}`} (seq ${e.changedSeq})`);
  for (const c of d.conflictsOpened) lines.push(`  ! conflict opened: ${c.path} (copy ${c.copyPath}, ${c.rule})`);
  for (const c of d.conflictsClosed) lines.push(`  ! conflict closed: ${c.path} (copy ${c.copyPath})`);
  return lines.join('\n');
}

export function importText(r: ImportReport): string {
  const lines: string[] = [];
  const range = r.firstSeq === null ? 'no records' : `seq ${r.firstSeq}..${r.head}`;
  if (r.problem === null) lines.push(`hash chain: ok, ${r.events} records (${range}), head hash ${r.headHash ?? '-'}`);
  else lines.push(`hash chain: BROKEN at line ${r.problem.line}${r.problem.seq === null ? '' : ` (seq ${r.problem.seq})`}: ${r.problem.problem}: ${r.problem.message}`);
  if (r.projectionHash !== null) {
    lines.push(`projections: ${r.files} files, ${r.peers} peers, ${r.conflicts} conflicts, ${r.transfers} transfers (peer ${r.self ?? '-'})`);
    lines.push(`projection hash: ${r.projectionHash}`);
  } else if (!r.complete) lines.push(`projections: not rebuilt (the file starts at seq ${r.firstSeq}; a rebuild needs the log from seq 1)`);
  if (r.decisions !== undefined) lines.push(r.decisions.ok ? `decisions: ${r.decisions.checked} re-derived, same as recorded` : `decisions: DIFFER: ${r.decisions.firstMismatch}`);
  return lines.join('\n');
}
