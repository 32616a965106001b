/**
 * What a decision function sees: the projections (already folded with the
 * input event and with every decision emitted so far) and the input event.
 * Nothing volatile (connections, outstanding requests, timers) is reachable
 * from here, which is what lets `replay --verify` re-run decisions from the
 * log alone.
 */
import type { PeerId } from '../core/ids.js';
import type { EnvelopedEvent, Event } from '../events/types.js';
import type { State } from '../projections/state.js';

export interface Decider {
  readonly state: State;
  /** This peer (from the state, or the create/join event that names it). */
  readonly self: PeerId;
  /** The recorded input event being decided on. */
  readonly input: EnvelopedEvent;
  /** Record a decision; it is folded into `state` before emit returns. */
  emit(e: Event): void;
}
