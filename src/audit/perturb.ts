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
import { PloppyError } from '../core/errors.js';
import { nodeHasher } from '../store/node-ports.js';
import { announcedVersions, judgedText, outcomeText, prepare, walk, type Item, type PeerLog, type SimulatedPeer, type Walk } from './from-logs.js';

export interface PerturbOptions {
  readonly seed: number;
  /** Chance that a delivery carrying versions (or a RESOLVED) is dropped. */
  readonly dropRate?: number;
  /** Chance that one is delayed past some of the receiver's later inputs. */
  readonly delayRate?: number;
  /** Chance that one arrives earlier, before some of the receiver's earlier inputs (never before it was sent). */
  readonly hastenRate?: number;
  /** At most this many inputs a delivery is moved past. */
  readonly delaySpanMax?: number;
}

export const perturbDefaults = { dropRate: 0.1, delayRate: 0.25, hastenRate: 0.25, delaySpanMax: 6 } as const;

export interface Perturbation {
  readonly kind: 'drop' | 'delay' | 'hasten';
  /** The receiving peer (from its log) and the delivery's recorded sequence number there. */
  readonly peer: string;
  readonly seq: number;
  readonly from: string;
  readonly cmd: string;
  readonly paths: readonly string[];
  /** For a delay: the recorded inputs of the receiver it now comes after; for a hasten: before. */
  readonly past?: readonly { readonly seq: number; readonly type: string }[];
}

/** Perturbed input lists, what was done, and per receiver the paths whose history it touched. */
export interface Perturbed {
  readonly lists: Item[][];
  readonly changes: Perturbation[];
  readonly diverged: Set<string>[];
}

/** Deliveries worth moving: those that carry versions, or settle a conflict. */
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

/** Move the delivery at `at` of `list` to index `to` (or drop it when `to` is null); describe it. */
function move(list: Item[], at: number, to: number | null): Perturbation {
  const it = list[at] as Item;
  if (it.input.type !== 'MessageReceived') throw new Error('only deliveries are moved');
  const base = { peer: it.input.peer, seq: it.input.seq, from: it.input.data.from, cmd: it.input.data.message.cmd, paths: pathsOfDelivery(it) };
  list.splice(at, 1);
  if (to === null) return { kind: 'drop', ...base };
  const past = (to > at ? list.slice(at, to) : list.slice(to, at)).map((x) => ({ seq: x.input.seq, type: x.input.type }));
  list.splice(to, 0, it);
  return { kind: to > at ? 'delay' : 'hasten', ...base, past };
}

/** Apply seeded drops, delays and hastenings to the receivers' input lists. */
export function perturb(lists: readonly Item[][], options: PerturbOptions): Perturbed {
  const rng = seededRng(options.seed);
  const rate = { ...perturbDefaults, ...options };
  const spanMax = Math.max(1, rate.delaySpanMax);
  const changes: Perturbation[] = [];
  const out = lists.map((list) => {
    const result = [...list];
    for (const it of list) {
      if (!carriesData(it)) continue;
      const at = result.indexOf(it);
      const roll = rng.next();
      const span = 1 + rng.int(spanMax);
      if (roll < rate.dropRate) changes.push(move(result, at, null));
      else if (roll < rate.dropRate + rate.delayRate && at + span < result.length) changes.push(move(result, at, at + span));
      else if (roll < rate.dropRate + rate.delayRate + rate.hastenRate && at - span >= 0) changes.push(move(result, at, at - span));
    }
    return result;
  });
  return { lists: out, changes, diverged: divergedPaths(lists, changes) };
}

function divergedPaths(lists: readonly Item[][], changes: readonly Perturbation[]): Set<string>[] {
  return lists.map((list) => {
    const peer = list[0]?.input.peer;
    return new Set(changes.filter((c) => c.peer === peer).flatMap((c) => c.paths));
  });
}

/**
 * One chosen change, for questions asked by hand ("would this conflict have
 * happened if B's message had arrived before A's edit?"): the delivery
 * recorded at `seq` on receiver `peer` is moved just before the receiver's
 * input recorded at `beforeSeq` (or dropped when `beforeSeq` is null).
 */
export function moveDelivery(lists: readonly Item[][], peer: string, seq: number, beforeSeq: number | null): Perturbed {
  const out = lists.map((l) => [...l]);
  const list = out.find((l) => l[0]?.input.peer === peer);
  const at = list?.findIndex((it) => it.input.seq === seq) ?? -1;
  if (list === undefined || at < 0 || list[at]?.input.type !== 'MessageReceived') throw new PloppyError('USAGE', `no delivery recorded at seq ${seq} on ${peer}`);
  let to: number | null = null;
  if (beforeSeq !== null) {
    const target = list.findIndex((it) => it.input.seq === beforeSeq);
    if (target < 0) throw new PloppyError('USAGE', `no input recorded at seq ${beforeSeq} on ${peer}`);
    to = target > at ? target - 1 : target;
  }
  const changes = [move(list, at, to)];
  return { lists: out, changes, diverged: divergedPaths(lists, changes) };
}

export interface PeerResult {
  readonly name: string;
  readonly peer: string;
  readonly recordedEvents: number;
  /** Inputs fed to the simulated peer; outcomes or scans that no longer applied; decisions unlike the recorded ones. */
  readonly fed: number;
  readonly skipped: number;
  /** Transfers landed that the recording never landed (a perturbed path; the model assumes the fetch succeeds). */
  readonly synthesized: number;
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

function judge(log: PeerLog, sim: SimulatedPeer): PeerResult {
  const { fed, skipped, synthesized, decisionsDiffer, recordedEnd: recorded, state: simulated } = sim;
  const rc = new Set(recorded.conflicts.keys());
  const sc = new Set(simulated.conflicts.keys());
  const recordedText = judgedText(recorded);
  const simulatedText = judgedText(simulated);
  const exact = recordedText === simulatedText;
  return {
    name: log.name, peer: log.records[0]?.peer ?? '', recordedEvents: log.records.length, fed, skipped, synthesized, decisionsDiffer,
    exact, sameOutcome: exact || outcomeText(recorded) === outcomeText(simulated),
    recordedHash: nodeHasher.sha256(recordedText), simulatedHash: nodeHasher.sha256(simulatedText),
    firstDifference: exact ? null : firstDifferenceIn(recorded, simulated),
    conflictsOnlyRecorded: [...rc].filter((c) => !sc.has(c)).sort(), conflictsOnlySimulated: [...sc].filter((c) => !rc.has(c)).sort(),
    filesDiffering: exact ? [] : differingFiles(recorded, simulated),
  };
}

/**
 * Replay the logs (perturbed when asked: seeded options, or a function of the
 * prepared lists such as `moveDelivery`) and judge every simulated peer
 * against its recorded projections.
 */
export function runFromLogs(logs: readonly PeerLog[], perturbation: PerturbOptions | ((lists: readonly Item[][]) => Perturbed) | null = null): FromLogsReport {
  const prepared = prepare(logs);
  const p: Perturbed | null = perturbation === null ? null : typeof perturbation === 'function' ? perturbation(prepared) : perturb(prepared, perturbation);
  const lists = p?.lists ?? prepared;
  const changes = p?.changes ?? [];
  const w = walk(logs, lists, p !== null, p?.diverged ?? []);
  const peers = logs.map((log, i) => {
    const sim = w.peers[i];
    if (sim === undefined) throw new Error(`no simulated peer for ${log.name}`);
    return judge(log, sim);
  });
  const changedOutcome = peers.some((p) => !p.sameOutcome);
  return {
    ok: p === null ? peers.every((x) => x.exact) : true,
    mode: p === null ? 'replay' : 'perturb', seed: perturbation !== null && typeof perturbation !== 'function' ? perturbation.seed : null, changedOutcome,
    peers, deliveries: w.deliveries, perturbations: changes,
  };
}

const short = (p: string): string => p.slice(0, 8);

export function fromLogsText(r: FromLogsReport): string {
  const d = r.deliveries;
  const lines = [
    r.mode === 'replay' ? 'replaying the recorded order' : `perturbed with seed ${r.seed}: ${r.perturbations.length} deliveries dropped or delayed`,
    `deliveries: ${d.total} (${d.linked} linked to their sender's log, ${d.matched} matched its files at the send point, ${d.rewritten} re-made from the simulated sender, ${d.unlinked} from peers without a log or without versions, ${d.duplicates} duplicates)`,
  ];
  for (const p of r.perturbations) {
    const what = `${p.cmd} ${short(p.from)} -> ${short(p.peer)} (seq ${p.seq}${p.paths.length > 0 ? `, ${p.paths.slice(0, 3).join(', ')}` : ''})`;
    const inputs = p.past?.map((x) => `#${x.seq} ${x.type}`).join(', ') ?? '';
    lines.push(p.kind === 'drop' ? `  dropped ${what}` : p.kind === 'delay' ? `  delayed ${what} past ${inputs}` : `  hastened ${what} before ${inputs}`);
  }
  for (const p of r.peers) {
    const verdict = p.exact ? 'same projections (exact)' : p.sameOutcome ? 'same files and conflicts (sequence numbers differ)' : 'DIFFERENT outcome';
    const landed = p.synthesized > 0 ? `, ${p.synthesized} transfers landed that never landed in the recording` : '';
    lines.push(`${short(p.peer)} (${p.name}): ${verdict}; ${p.fed} inputs fed, ${p.skipped} no longer applied${landed}, ${p.decisionsDiffer} decisions unlike the recorded ones`);
    for (const c of p.conflictsOnlyRecorded) lines.push(`  conflict ${c} happened, but not in this order`);
    for (const c of p.conflictsOnlySimulated) lines.push(`  conflict ${c} would have happened in this order`);
    if (!p.sameOutcome && p.filesDiffering.length > 0) lines.push(`  files that end differently: ${p.filesDiffering.slice(0, 10).join(', ')}`);
    if (r.mode === 'replay' && !p.exact && p.firstDifference !== null) lines.push(`  first difference: ${p.firstDifference}`);
  }
  lines.push(r.mode === 'replay' ? (r.ok ? 'REPRODUCED: every simulated peer reached its recorded projections' : 'NOT REPRODUCED') : r.changedOutcome ? 'this order leads to a different outcome' : 'this order leads to the same outcome');
  return lines.join('\n');
}
