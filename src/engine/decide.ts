/**
 * decide(state, inputEvent, emit): the engine's decisions as a pure function
 * of the projections and one recorded input event (DESIGN.md, "The one
 * rule"). handle() and `replay --verify` both call it; each emitted decision
 * is folded into the state before emit returns, so later decisions of the
 * same input see earlier ones (two versions of one path in one IHAVE).
 *
 * Decision events are the types in `decisionTypes`; every other event type is
 * an input (something observed: a message, a local change, a connection, a
 * timer, an effect's outcome) and is recorded before anything acts on it.
 */
import { assert } from '../core/assert.js';
import type { MessageId, PeerId } from '../core/ids.js';
import type { LoggedMessage } from '../events/messages.js';
import type { EnvelopedEvent, Event, EventType } from '../events/types.js';
import type { State } from '../projections/state.js';
import type { Decider } from './decider.js';
import { decideCantSee, decideLearned, decideLinkLost } from './peers.js';
import { decideResolve } from './resolve.js';
import { abandonTarget, mergeAfterCopy } from './conflict-records.js';
import { reconcile, reconcileLocal, reconcileNotEmpty, reconcileUnderFile } from './versions.js';

export const decisionTypes: ReadonlySet<EventType> = new Set<EventType>([
  'VersionAccepted', 'VersionSuperseded', 'VersionsMerged', 'ConflictDetected', 'ConflictResolved', 'PeerLearned', 'PeerLost',
]);

export const isDecision = (type: EventType): boolean => decisionTypes.has(type);

/** Take the decisions `input` calls for, emitting each (and folding it, which `emit` does). */
export function decide(state: State, input: EnvelopedEvent, emit: (e: Event) => void): void {
  if (isDecision(input.type)) return;
  decideInput(new Deciding(state, state.meta.self ?? input.peer, input, emit), input);
}

/** The Decider of one decide() call (a class, so no closure is made per call). */
class Deciding implements Decider {
  constructor(
    readonly state: State,
    readonly self: PeerId,
    readonly input: EnvelopedEvent,
    private readonly sink: (e: Event) => void,
  ) {}

  emit(e: Event): void {
    assert(isDecision(e.type), `decide emitted a non-decision ${e.type}`);
    this.sink(e);
  }
}

function decideInput(d: Decider, input: EnvelopedEvent): void {
  const eventId = input.id as string as MessageId;
  switch (input.type) {
    case 'MessageReceived':
      // A duplicate was decided on when it first came: deciding again against a state that has
      // moved on since (the version given up, say) would act on it twice.
      if (input.data.duplicate === true) return;
      return decideMessage(d, input.data.from, input.data.message);
    case 'LocalFileChanged':
    case 'LocalFileDeleted':
      return reconcileLocal(d, input.data.path, eventId);
    case 'LocalFileMoved':
      reconcileLocal(d, input.data.from, eventId);
      return reconcileLocal(d, input.data.to, eventId);
    case 'FileCommitted':
      return mergeAfterCopy(d, input.data.path);
    case 'TransferFailed':
      if (input.data.code === 'DIR_NOT_EMPTY') reconcileNotEmpty(d, input.data.path, eventId);
      if (input.data.code === 'BLOCK_UNAVAILABLE') abandonTarget(d, input.data.path);
      return reconcileUnderFile(d, input.data.path, eventId);
    case 'PeerDisconnected':
      return decideLinkLost(d, input.data.peer);
    case 'ResolveRequested':
      return decideResolve(d, input);
    default:
      return;
  }
}

function decideMessage(d: Decider, from: PeerId, m: LoggedMessage): void {
  switch (m.cmd) {
    case 'IHAVE':
      for (const v of m.files) reconcile(d, v, from, m.id);
      return;
    case 'IDELETED':
      return reconcile(d, m.version, from, m.id);
    case 'IMOVED':
      reconcile(d, m.tombstone, from, m.id);
      return reconcile(d, m.version, from, m.id);
    case 'ICANSEE':
    case 'IKNOWABOUT':
      return decideLearned(d, from, m);
    case 'ICANTSEE':
      return decideCantSee(d, from, m);
    case 'RESOLVED': {
      const c = d.state.conflicts.get(m.copyPath);
      if (c !== undefined && c.path === m.path) d.emit({ type: 'ConflictResolved', data: { path: m.path, copyPath: m.copyPath, keep: m.keep, by: m.by } });
      return;
    }
    default:
      return;
  }
}
