/**
 * `replay --verify`: re-run the engine's decisions over the recorded inputs.
 * Placeholder wiring until the engine exports its verifier: reports that no
 * decisions were checked, and fails, so it can never pass vacuously.
 */
import type { DecisionVerifier } from './replay.js';

export const decisionVerifier: DecisionVerifier = async () => ({
  ok: false,
  checked: 0,
  firstMismatch: 'decision re-run is not available in this build',
});
