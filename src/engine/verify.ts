/**
 * `replay --verify`: re-run the decisions over a recorded log.
 *
 * The log is folded from an empty state. Each input event and the decision
 * events recorded right after it form a group; for each group the input is
 * folded and decide() runs on it exactly as handle() ran it, and every
 * decision it emits must equal (type and data) the next recorded decision of
 * the group, which is then folded (with its recorded envelope, so the state
 * stays the fold of the log). The first difference names its sequence number.
 * A recorded log is thereby a regression test of the decision code.
 */
import { canonicalJson } from '../core/json.js';
import type { EnvelopedEvent, Event } from '../events/types.js';
import { evolve, initialState, type State } from '../projections/state.js';
import { decide, isDecision } from './decide.js';

export interface DecisionCheck {
  readonly ok: boolean;
  /** Decision events re-derived and found equal. */
  readonly checked: number;
  /** Null when every decision matched. */
  readonly firstMismatch: string | null;
  readonly seq: number | null;
}

const bodyText = (e: Event): string => canonicalJson({ type: e.type, data: e.data });

/**
 * Same type and data. A structural comparison first (equal values: the common
 * case, and no strings built); when it finds a difference, the canonical
 * serialisations decide, so the verdict is exactly "same canonical JSON".
 */
const sameBody = (a: Event, b: Event): boolean => a.type === b.type && (sameValue(a.data, b.data) || bodyText(a) === bodyText(b));

const isPlainObject = (x: object): boolean => {
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
};

/**
 * Structurally equal JSON-like values: key order ignored, undefined properties
 * as if absent (both as canonicalJson treats them). Anything else (a Map, a
 * typed array) counts as different, so a caller that must be exact compares
 * canonical serialisations when this says no: true here implies equal
 * canonical JSON, never the other way round.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || !isPlainObject(a) || !isPlainObject(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let defined = 0;
  for (const k in x) {
    if (x[k] === undefined) continue;
    defined++;
    if (!sameValue(x[k], y[k])) return false;
  }
  for (const k in y) if (y[k] !== undefined) defined--;
  return defined === 0;
}

class Mismatch extends Error {
  constructor(
    readonly seq: number,
    message: string,
  ) {
    super(message);
  }
}

export interface DecisionCheckerOptions {
  /**
   * Called after each recorded event is folded, with the state then (the fold
   * of the log up to and including it), so one pass over a log can both check
   * decisions and look at every state the log went through. With a hook the
   * checker folds the whole log even after a mismatch (deciding stops there).
   */
  readonly onFolded?: (e: EnvelopedEvent, state: State) => void;
}

/** A streaming checker: push recorded events in sequence order, then read the result. */
export class DecisionChecker {
  private readonly state: State = initialState();
  private group: EnvelopedEvent[] = [];
  /** Events of the group being checked that are folded already. */
  private foldedInGroup = 0;
  private checked = 0;
  private mismatch: Mismatch | null = null;
  private readonly onFolded: ((e: EnvelopedEvent, state: State) => void) | null;

  constructor(options: DecisionCheckerOptions = {}) {
    this.onFolded = options.onFolded ?? null;
  }

  push(e: EnvelopedEvent): void {
    if (this.mismatch !== null) {
      if (this.onFolded !== null) this.fold(e);
      return;
    }
    if (!isDecision(e.type)) this.flush();
    this.group.push(e);
  }

  result(): DecisionCheck {
    this.flush();
    const m = this.mismatch;
    return { ok: m === null, checked: this.checked, firstMismatch: m?.message ?? null, seq: m?.seq ?? null };
  }

  /** The fold of every event pushed (after result(); with an onFolded hook, whatever the verdict). */
  get folded(): State {
    return this.state;
  }

  private fold(e: EnvelopedEvent): void {
    evolve(this.state, e);
    this.foldedInGroup++;
    this.onFolded?.(e, this.state);
  }

  private flush(): void {
    const group = this.group;
    this.group = [];
    this.foldedInGroup = 0;
    if (this.mismatch !== null || group.length === 0) return;
    try {
      this.check(group);
    } catch (e) {
      if (!(e instanceof Mismatch)) throw e;
      this.mismatch = e;
      if (this.onFolded !== null) for (const rest of group.slice(this.foldedInGroup)) this.fold(rest);
    }
  }

  private check(group: readonly EnvelopedEvent[]): void {
    const [input, ...recorded] = group;
    if (input === undefined) return;
    if (isDecision(input.type)) throw new Mismatch(input.seq, `seq ${input.seq}: decision ${input.type} with no input event before it`);
    this.state.dirty.clear();
    this.fold(input);
    let next = 0;
    decide(this.state, input, (derived) => {
      const r = recorded[next++];
      if (r === undefined) {
        throw new Mismatch(input.seq, `after seq ${input.seq} (${input.type}): re-run decides ${bodyText(derived)}, the log records nothing`);
      }
      if (!sameBody(r, derived)) {
        throw new Mismatch(r.seq, `seq ${r.seq}: the log records ${bodyText(r)}, re-run decides ${bodyText(derived)}`);
      }
      this.fold(r);
      this.checked++;
    });
    const extra = recorded[next];
    if (extra !== undefined) throw new Mismatch(extra.seq, `seq ${extra.seq}: the log records ${bodyText(extra)}, re-run decides nothing more`);
  }
}

/** Check a whole recorded log (from seq 1) at once. */
export function verifyDecisions(events: Iterable<EnvelopedEvent>): DecisionCheck {
  const checker = new DecisionChecker();
  for (const e of events) checker.push(e);
  return checker.result();
}
