/**
 * One simulation run, start to verdict.
 *
 * Theory of operation
 * 1. Safety: the workload edits files while the seed's faults strike, for
 *    `steps` agenda items. Integrity and idempotence are checked as it goes.
 * 2. Liveness: every fault stops, partitions heal, crashed peers restart,
 *    paused ones resume, every link is redialled and every folder rescanned.
 *    The peers must then converge within a bounded virtual time and number
 *    of steps (invariant 1).
 * 3. Quiet: after convergence the run goes on for a while. Only keep-alive
 *    traffic may flow and the trees must stay converged (invariant 6: every
 *    cascade ends); the total message count must stay within a budget of
 *    peers x links x (things that happened).
 * 4. Verdict: each log is folded from empty and compared with its engine's
 *    state, its decisions re-run over its inputs (replay --verify) and its
 *    hash chain verified (7); the folded histories are checked
 *    for lost writes (2), resurrections (3) and conflict determinism (4).
 * The first violation ends the run; the result carries the seed, the knobs,
 * the trace hash, a trace tail and the command that replays it.
 */
import { closeSync, mkdtempSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pingIntervalMs } from '../core/constants.js';
import { DecisionChecker } from '../engine/verify.js';
import type { RecordedEvent } from '../events/types.js';
import type { BugName } from './bugs.js';
import {
  conflictFindings, convergenceProblem, convergenceProblems, emptyHistory, treeProblems, historyOf, lostWrites, replayProblem, resurrections, vectorCollisions,
  type Finding, type History,
} from './checkers.js';
import { scheduleFaults } from './faults.js';
import { deriveKnobs, describeKnobs, replayCommand, type FaultName, type Knobs, type Topology } from './knobs.js';
import { World, type EngineFactory, type Stats, type Violation } from './world.js';

export interface SimOptions {
  readonly seed: number;
  readonly peers?: number;
  readonly steps?: number;
  readonly faults?: readonly FaultName[];
  readonly topology?: Topology;
  readonly bugs?: readonly BugName[];
  readonly createEngine: EngineFactory;
  /** Keep every trace line (for --trace FILE). */
  readonly keepTrace?: boolean;
  readonly traceTail?: number;
  /** Where to write a failed run's logs and trace (default: a new temp dir); null: nowhere. */
  readonly reportDir?: string | null;
  readonly livenessMsMax?: number;
  readonly quietMs?: number;
}

export interface SimResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly knobs: Knobs;
  readonly violations: readonly Violation[];
  readonly traceHash: string;
  readonly steps: number;
  readonly virtualMs: number;
  readonly convergedAtMs: number | null;
  /** When the liveness phase began (faults stopped, everything healed). */
  readonly healedAtMs: number;
  /** Wall time spent judging the logs at the end (for the benchmark; not part of the trace). */
  readonly verdictMs: number;
  readonly stats: Stats;
  readonly replay: string;
  readonly traceTail: readonly string[];
  readonly trace: readonly string[] | null;
  readonly reportDir: string | null;
}

export const defaultLivenessMsMax = 3 * 60 * 1000;
/** Liveness gives up when nothing has progressed for this long: past the engine's longest wait (a transfer backs off up to eight 5 s ticks, then a 10 s request timeout); passing seeds converge within ~15 s of healing. */
export const stallMs = 60 * 1000;
export const defaultQuietMs = 20 * 1000;
const probeEveryMs = 250;
/** Messages allowed per (peer x link) for every thing that happened (an edit, a link coming up, a restart). */
const messagesPerPeerLinkPerThing = 64;

async function runSteps(w: World, until: () => boolean, maxSteps: number): Promise<boolean> {
  for (let i = 0; i < maxSteps; i++) {
    if (w.stopped || until()) return true;
    let r = w.step();
    if (r instanceof Promise) r = await r;
    if (!r) return until();
  }
  return until();
}

/**
 * Run the liveness phase until converged; returns the time it converged, or
 * null. Gives up early when nothing has progressed (no file, version or
 * conflict event anywhere) for `stallMs`: retrying forever is not converging.
 */
async function converge(w: World, livenessMsMax: number): Promise<number | null> {
  await w.healAll();
  const deadline = w.nowMs + livenessMsMax;
  const stepsMax = 20_000 + 4_000 * w.peers.length * (w.edges.length + 1);
  let nextProbe = w.nowMs;
  let convergedAt: number | null = null;
  let last = 'never settled';
  let progress = w.progress;
  let progressAtMs = w.nowMs;
  let stalled = false;
  let lastSeen = '';
  await runSteps(
    w,
    () => {
      if (w.nowMs > deadline) return true;
      if (w.nowMs < nextProbe) return false;
      nextProbe = w.nowMs + probeEveryMs;
      if (w.progress !== progress) (progress = w.progress), (progressAtMs = w.nowMs);
      if (w.nowMs - progressAtMs > stallMs) return (stalled = true);
      if (!w.settled) return false;
      // Comparing trees is the expensive part: only when something changed since the last look.
      const seen = `${w.progress}|${w.peers.map((p) => p.disk.version).join(',')}`;
      if (seen === lastSeen) return false;
      lastSeen = seen;
      const problem = convergenceProblem(w.peers);
      if (problem === null) convergedAt = w.nowMs;
      else last = problem;
      return problem === null;
    },
    stepsMax,
  );
  if (convergedAt === null && !w.stopped) {
    const problems = w.settled ? convergenceProblems(w.peers) : [last];
    const why = stalled ? `no progress for ${stallMs} ms` : `no convergence within ${livenessMsMax} ms or ${stepsMax} steps`;
    w.violate('convergence', `${why} after healing (now ${w.nowMs} ms, ${w.steps} steps): ${problems.join(' | ')}`);
  }
  return convergedAt;
}

/** After convergence only keep-alives may flow, and the trees must stay put. */
async function quiet(w: World, quietMs: number): Promise<void> {
  w.phase = 'quiet';
  const sentBefore = w.stats.sentData;
  const linkUpsBefore = w.stats.linkUps;
  const end = w.nowMs + quietMs;
  await runSteps(w, () => w.nowMs >= end, 1_000_000);
  const extra = w.stats.sentData - sentBefore;
  // Keep-alive-paced chatter per link, plus a discovery round (peers x links) for each link that came back up.
  const rounds = Math.ceil(quietMs / pingIntervalMs) + 1;
  const allowed = 4 * 2 * w.edges.length * rounds + 8 * w.peers.length * w.edges.length * (w.stats.linkUps - linkUpsBefore);
  if (extra > allowed) w.violate('termination', `${extra} non-keep-alive messages in the ${quietMs} ms after convergence (allowed ${allowed}): a cascade does not end`);
  await runSteps(w, () => w.settled, 100_000);
  const problem = convergenceProblem(w.peers);
  if (problem !== null && !w.stopped) w.violate('convergence', `the trees changed after converging: ${problem}`);
  const s = w.stats;
  const things = 1 + s.userEdits + s.linkUps + s.restarts + s.hostile + s.partitions;
  const budget = messagesPerPeerLinkPerThing * w.peers.length * Math.max(1, w.edges.length) * things;
  if (s.sent > budget && !w.stopped) w.violate('termination', `${s.sent} messages sent, over the budget of ${budget} (peers x links x ${things} things x ${messagesPerPeerLinkPerThing})`);
}

async function readLog(w: World, i: number): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of (w.peers[i] as World['peers'][number]).log.read()) out.push(e);
  return out;
}

/**
 * Invariants 2, 3, 4 and 7 over the durable logs. Lost writes and
 * resurrections are judged only when the trees agree (a peer that is behind
 * lacks versions for a reason that convergence already reports); differing
 * conflict sets alone do not stop them.
 */
async function verdict(w: World): Promise<void> {
  const onlyConflictSetsDiffer = w.violations.every((v) => v.invariant === 'convergence' && v.message.includes('conflict sets'));
  const treesAgree = onlyConflictSetsDiffer && treeProblems(w.peers, 1).length === 0;
  const history: History = emptyHistory();
  const findings: Finding[] = [];
  for (const p of w.peers) {
    // One pass over the log checks its hash chain and feeds one fold, which serves three checks:
    // the history (lost writes, resurrections, conflicts), the rebuilt state (replay), and replay
    // --verify (re-running the decisions over the recorded inputs gives the recorded decisions;
    // the fold goes on past a mismatch). A broken chain stops the pass there and is the finding.
    const checker = new DecisionChecker({ onFolded: historyOf(p.index, history) });
    const chain = await p.log.verify({ onRecord: (e) => checker.push(e) });
    if (!chain.ok) {
      findings.push({ invariant: 'replay', message: `p${p.index}'s hash chain is broken at seq ${chain.seq}: ${chain.message}` });
      continue;
    }
    const decisions = checker.result();
    const rebuilt = checker.folded;
    rebuilt.dirty.clear();
    const replay = replayProblem(p, rebuilt);
    if (replay !== null) findings.push({ invariant: 'replay', message: replay });
    if (!decisions.ok) findings.push({ invariant: 'replay', message: `p${p.index}: re-running its decisions over its log differs at seq ${decisions.seq}: ${decisions.firstMismatch}` });
  }
  findings.push(...conflictFindings(history), ...vectorCollisions(history));
  if (treesAgree) for (const p of w.peers) findings.push(...lostWrites(history, p), ...resurrections(history, p));
  for (const f of findings) w.violate(f.invariant, f.message);
}

/** The knobs a run's options ask for. */
export const knobsFor = (options: Pick<SimOptions, 'seed' | 'peers' | 'steps' | 'faults' | 'topology'>): Knobs =>
  deriveKnobs(options.seed, {
    ...(options.peers === undefined ? {} : { peers: options.peers }),
    ...(options.steps === undefined ? {} : { steps: options.steps }),
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    ...(options.topology === undefined ? {} : { topology: options.topology }),
  });

export async function runSim(options: SimOptions): Promise<SimResult> {
  const knobs = knobsFor(options);
  const w = new World({
    knobs,
    createEngine: options.createEngine,
    bugs: options.bugs ?? [],
    keepTrace: options.keepTrace ?? false,
    traceTail: options.traceTail ?? 60,
  });
  w.trace.add(describeKnobs(knobs));
  w.start();
  scheduleFaults(w);
  await runSteps(w, () => false, knobs.steps);
  return finishRun(w, options);
}

export type FinishOptions = Pick<SimOptions, 'bugs' | 'reportDir' | 'livenessMsMax' | 'quietMs'>;

/** Liveness, quiet and verdict for a world whose safety phase is over (runSim's, or a model-based test's). */
export async function finishRun(w: World, options: FinishOptions = {}): Promise<SimResult> {
  let convergedAtMs: number | null = null;
  const healedAtMs = w.nowMs;
  if (!w.stopped) convergedAtMs = await converge(w, options.livenessMsMax ?? defaultLivenessMsMax);
  if (!w.stopped) await quiet(w, options.quietMs ?? defaultQuietMs);
  // The logs are judged even after a failure: a replay or conflict problem may be the cause.
  const verdictStarted = performance.now();
  if (w.peers.every((p) => p.engine !== null)) await verdict(w);
  const verdictMs = performance.now() - verdictStarted;
  const ok = w.violations.length === 0;
  const knobs = w.knobs;
  const result = {
    ok, seed: knobs.seed, knobs, violations: w.violations, traceHash: w.trace.digest(), steps: w.steps, virtualMs: w.nowMs,
    convergedAtMs, healedAtMs, verdictMs, stats: w.stats, replay: replayCommand(knobs) + (options.bugs?.length ? ` --bugs ${options.bugs.join(',')}` : ''),
    traceTail: w.trace.tail(), trace: w.trace.full,
  };
  const reportDir = ok || options.reportDir === null ? null : await writeReport(w, result, options.reportDir);
  return { ...result, reportDir };
}

/**
 * Write `lines`, each followed by a newline, a slice at a time: a run that
 * never settles can log more than fits in one string (seed 22271's peers
 * wrote hundreds of megabytes), and the report must still come out.
 */
function writeLines(file: string, lines: readonly string[]): void {
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < lines.length; i += reportLinesPerWrite) writeSync(fd, `${lines.slice(i, i + reportLinesPerWrite).join('\n')}\n`);
  } finally {
    closeSync(fd);
  }
}

const reportLinesPerWrite = 10_000;

/** A failed run's evidence: each peer's log as JSON lines, the trace, the knobs. */
async function writeReport(w: World, r: Omit<SimResult, 'reportDir'>, dir: string | undefined): Promise<string> {
  const out = dir ?? mkdtempSync(join(tmpdir(), `ploppy-sim-${r.seed}-`));
  for (const p of w.peers) {
    writeLines(join(out, `p${p.index}-${p.id}.jsonl`), (await readLog(w, p.index)).map((e) => JSON.stringify(e)));
  }
  writeLines(join(out, 'trace.txt'), r.trace ?? r.traceTail);
  writeFileSync(join(out, 'result.json'), JSON.stringify({ ...r, trace: undefined, knobs: r.knobs }, null, 2) + '\n');
  return out;
}

/** The failure report for people. */
export function formatResult(r: SimResult): string {
  const lines = [describeKnobs(r.knobs)];
  if (r.ok) {
    lines.push(`PASS steps=${r.steps} virtual=${r.virtualMs}ms converged=${r.convergedAtMs ?? '-'}ms messages=${r.stats.sent} trace=${r.traceHash.slice(0, 16)}`);
    return lines.join('\n');
  }
  const v = r.violations[0] as Violation;
  lines.push(`FAIL invariant=${v.invariant} at ${v.atMs}ms step ${v.step}: ${v.message}`);
  for (const other of r.violations.slice(1, 5)) lines.push(`  also ${other.invariant}: ${other.message}`);
  lines.push(`trace hash ${r.traceHash}`, '--- last steps ---', ...r.traceTail.map((l) => (l.length > 400 ? `${l.slice(0, 400)}...` : l)), '---');
  if (r.reportDir !== null) lines.push(`peer logs (JSON lines) and the trace: ${r.reportDir}`);
  lines.push(`replay: ${r.replay}`);
  return lines.join('\n');
}
