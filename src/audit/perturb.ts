/**
 * Running `sim --from-logs` and judging it: replay the logs as recorded (the
 * simulated peers must reach exactly the recorded files and conflicts
 * projections), or perturbed (seeded: some deliveries are dropped, some
 * arrive later than they did, past a few of the receiver's other inputs) to
 * see which orders lead to other outcomes: a conflict that would not have
 * happened if a message had arrived before a local edit, or one that would
 * have.
 */
import { canonicalJson } from '../core/json.js';
import { seededRng } from '../core/rng.js';
import type { State } from '../projections/state.js';
import { announcedVersions, judgedHash, judgedText, outcomeText, prepare, recordedState, walk, type Item, type PeerLog, type Walk } from './from-logs.js';

export interface PerturbOptions {
  readonly seed: number;
  /** Chance that a delivery carrying versions (or a RESOLVED) is dropped. */
  readonly dropRate?: number;
  /** Chance that one is delayed past some of the receiver's later inputs. */
  readonly delayRate?: number;
  /** At most this many inputs a delayed delivery is moved past. */
  readonly delaySpanMax?: number;
}

export const perturbDefaults = { dropRate: 0.1, delayRate: 0.3, delaySpanMax: 6 } as const;

export interface Perturbation {
  readonly kind: 'drop' | 'delay';
  /** The receiving peer (from its log) and the delivery's recorded sequence number there. */
  readonly peer: string;
  readonly seq: number;
  readonly from: string;
  readonly cmd: string;
  readonly paths: readonly string[];
  /** For a delay: the recorded inputs of the receiver it now comes after. */
  readonly past?: readonly { readonly seq: number; readonly type: string }[];
}

const carriesData = (it: Item): boolean => {
  if (it.input.type !== 'MessageReceived') return false;
  const m = it.input.data.message;
  return m.cmd === 'RESOLVED' || announcedVersions(m).length > 0;
};

const pathsOfDelivery = (it: Item): string[] => {
  if (it.input.type !== 'MessageReceived') return [];
  const m = it.input.data.message;
  return m.cmd === 'RESOLVED' ? [m.path] : announcedVersions(m).map((v) => v.path);
};

/** Apply seeded drops and delays to the receivers' input lists. */
export function perturb(lists: readonly Item[][], options: PerturbOptions): { lists: Item[][]; changes: Perturbation[] } {
  const rng = seededRng(options.seed);
  const dropRate = options.dropRate ?? perturbDefaults.dropRate;
  const delayRate = options.delayRate ?? perturbDefaults.delayRate;
  const spanMax = Math.max(1, options.delaySpanMax ?? perturbDefaults.delaySpanMax);
  const changes: Perturbation[] = [];
  const out = lists.map((list) => {
    const result = [...list];
    for (const it of list) {
      if (!carriesData(it) || it.input.type !== 'MessageReceived') continue;
      const base = { peer: it.input.peer, seq: it.input.seq, from: it.input.data.from, cmd: it.input.data.message.cmd, paths: pathsOfDelivery(it) };
      const at = result.indexOf(it);
      if (rng.chance(dropRate)) {
        result.splice(at, 1);
        changes.push({ kind: 'drop', ...base });
      } else if (rng.chance(delayRate)) {
        const to = Math.min(result.length - 1, at + 1 + rng.int(spanMax));
        if (to === at) continue;
        const past = result.slice(at + 1, to + 1).map((x) => ({ seq: x.input.seq, type: x.input.type }));
        result.splice(at, 1);
        result.splice(to, 0, it);
        changes.push({ kind: 'delay', ...base, past });
      }
    }
    return result;
  });
  return { lists: out, changes };
}

export interface PeerResult {
  readonly name: string;
  readonly peer: string;
  readonly recordedEvents: number;
  /** Inputs fed to the simulated peer; outcomes or scans that no longer applied; decisions unlike the recorded ones. */
  readonly fed: number;
  readonly skipped: number;
  readonly decisionsDiffer: number;
  /** Files and conflicts projections byte-equal to the recorded ones (sequence numbers included). */
  readonly exact: boolean;
  /** Same files (versions) and conflicts, whatever the sequence numbers. */
  readonly sameOutcome: boolean;
  readonly recordedHash: string;
  readonly simulatedHash: string;
  readonly firstDifference: string | null;
  readonly conflictsOnlyRecorded: readonly string[];
  readonly conflictsOnlySimulated: readonly string[];
  readonly filesDiffering: readonly string[];
}

export interface FromLogsReport {
  /** Replay: every peer exact. Perturbed: the run completed (see `changedOutcome`). */
  readonly ok: boolean;
  readonly mode: 'replay' | 'perturb';
  readonly seed: number | null;
  readonly changedOutcome: boolean;
  readonly peers: readonly PeerResult[];
  readonly deliveries: Walk['deliveries'];
  readonly perturbations: readonly Perturbation[];
}

/** The first files or conflicts entry that differs, named. */
function firstDifferenceIn(a: State, b: State): string | null {
  for (const name of ['files', 'conflicts'] as const) {
    const x = a[name] as Map<string, unknown>;
    const y = b[name] as Map<string, unknown>;
    for (const k of [...new Set([...x.keys(), ...y.keys()])].sort()) {
      const vx = x.has(k) ? canonicalJson(x.get(k)) : '(absent)';
      const vy = y.has(k) ? canonicalJson(y.get(k)) : '(absent)';
      if (vx !== vy) return `${name}[${JSON.stringify(k)}]: recorded ${vx}, simulated ${vy}`;
    }
  }
  return null;
}

function differingFiles(a: State, b: State): string[] {
  const paths = [...new Set([...a.files.keys(), ...b.files.keys()])].sort();
  return paths.filter((p) => canonicalJson(a.files.get(p)?.version ?? null) !== canonicalJson(b.files.get(p)?.version ?? null));
}

function judge(log: PeerLog, simulated: State, fed: number, skipped: number, decisionsDiffer: number): PeerResult {
  const recorded = recordedState(log.records);
  const rc = new Set(recorded.conflicts.keys());
  const sc = new Set(simulated.conflicts.keys());
  return {
    name: log.name, peer: log.records[0]?.peer ?? '', recordedEvents: log.records.length, fed, skipped, decisionsDiffer,
    exact: judgedText(recorded) === judgedText(simulated), sameOutcome: outcomeText(recorded) === outcomeText(simulated),
    recordedHash: judgedHash(recorded), simulatedHash: judgedHash(simulated), firstDifference: firstDifferenceIn(recorded, simulated),
    conflictsOnlyRecorded: [...rc].filter((c) => !sc.has(c)).sort(), conflictsOnlySimulated: [...sc].filter((c) => !rc.has(c)).sort(),
    filesDiffering: differingFiles(recorded, simulated),
  };
}

/** Replay the logs (perturbed when asked) and judge every simulated peer against its recorded projections. */
export function runFromLogs(logs: readonly PeerLog[], perturbation: PerturbOptions | null = null): FromLogsReport {
  const prepared = prepare(logs);
  const { lists, changes } = perturbation === null ? { lists: prepared, changes: [] } : perturb(prepared, perturbation);
  const w = walk(logs, lists, perturbation !== null);
  const peers = logs.map((log, i) => {
    const sim = w.peers[i];
    if (sim === undefined) throw new Error(`no simulated peer for ${log.name}`);
    return judge(log, sim.state, sim.fed, sim.skipped, sim.decisionsDiffer);
  });
  const changedOutcome = peers.some((p) => !p.sameOutcome);
  return {
    ok: perturbation === null ? peers.every((p) => p.exact) : true,
    mode: perturbation === null ? 'replay' : 'perturb', seed: perturbation?.seed ?? null, changedOutcome,
    peers, deliveries: w.deliveries, perturbations: changes,
  };
}

const short = (p: string): string => p.slice(0, 8);

export function fromLogsText(r: FromLogsReport): string {
  const d = r.deliveries;
  const lines = [
    r.mode === 'replay' ? 'replaying the recorded order' : `perturbed with seed ${r.seed}: ${r.perturbations.length} deliveries dropped or delayed`,
    `deliveries: ${d.total} (${d.linked} linked to their sender's log, ${d.matched} matched its files at the send point, ${d.rewritten} re-made from the simulated sender, ${d.unlinked} from peers without a log or without versions)`,
  ];
  for (const p of r.perturbations) {
    const what = `${p.cmd} ${short(p.from)} -> ${short(p.peer)} (seq ${p.seq}${p.paths.length > 0 ? `, ${p.paths.slice(0, 3).join(', ')}` : ''})`;
    lines.push(p.kind === 'drop' ? `  dropped ${what}` : `  delayed ${what} past ${p.past?.map((x) => `#${x.seq} ${x.type}`).join(', ')}`);
  }
  for (const p of r.peers) {
    const verdict = p.exact ? 'same projections (exact)' : p.sameOutcome ? 'same files and conflicts (sequence numbers differ)' : 'DIFFERENT outcome';
    lines.push(`${short(p.peer)} (${p.name}): ${verdict}; ${p.fed} inputs fed, ${p.skipped} no longer applied, ${p.decisionsDiffer} decisions unlike the recorded ones`);
    for (const c of p.conflictsOnlyRecorded) lines.push(`  conflict ${c} happened, but not in this order`);
    for (const c of p.conflictsOnlySimulated) lines.push(`  conflict ${c} would have happened in this order`);
    if (!p.sameOutcome && p.filesDiffering.length > 0) lines.push(`  files that end differently: ${p.filesDiffering.slice(0, 10).join(', ')}`);
    if (r.mode === 'replay' && !p.exact && p.firstDifference !== null) lines.push(`  first difference: ${p.firstDifference}`);
  }
  lines.push(r.mode === 'replay' ? (r.ok ? 'REPRODUCED: every simulated peer reached its recorded projections' : 'NOT REPRODUCED') : r.changedOutcome ? 'this order leads to a different outcome' : 'this order leads to the same outcome');
  return lines.join('\n');
}
