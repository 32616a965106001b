/**
 * The `--from-logs` half of `ploppy sim` (the command module stays the
 * simulator's; this is what it calls).
 */
import { loadPeerLog } from './files.js';
import { fromLogsText, runFromLogs, type FromLogsReport } from './perturb.js';

export const fromLogsHelp =
  "replay exported logs (ploppy export) of several peers through the engine's decisions in a causal order rebuilt " +
  'from them, and check every peer reaches its recorded files and conflicts. Block transfers are not re-run (logs hold ' +
  'no block bytes): their recorded outcomes are fed, and adapted when a perturbation changes what a peer fetches';

/** Exit code: replay 0 when reproduced, 1 when not; perturbed 0 (the report says what changed). */
export async function simFromLogs(files: readonly string[], seed: number | null, runs: number, json: boolean): Promise<number> {
  const logs = [];
  for (const f of files) logs.push(await loadPeerLog(f));
  const reports: FromLogsReport[] = [];
  if (seed === null) reports.push(runFromLogs(logs));
  else for (let s = seed; s < seed + Math.max(1, runs); s++) reports.push(runFromLogs(logs, { seed: s }));
  for (const r of reports) process.stdout.write(json ? `${JSON.stringify(r)}\n` : `${fromLogsText(r)}\n`);
  if (seed !== null && runs > 1 && !json) {
    const changed = reports.filter((r) => r.changedOutcome).map((r) => r.seed);
    process.stdout.write(`${changed.length} of ${reports.length} orders changed the outcome${changed.length > 0 ? ` (seeds ${changed.join(', ')})` : ''}\n`);
  }
  return reports.every((r) => r.ok) ? 0 : 1;
}
