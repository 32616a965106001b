/**
 * `replay --verify`: stream the recorded log through the engine's
 * DecisionChecker, which re-runs every decision over its recorded input and
 * names the first sequence number where the outcome differs.
 */
import { DecisionChecker } from '../engine/verify.js';
import type { DecisionVerifier } from './replay.js';

export const decisionVerifier: DecisionVerifier = async (log, until) => {
  const checker = new DecisionChecker();
  for await (const e of log.read({ until })) checker.push(e);
  const r = checker.result();
  return { ok: r.ok, checked: r.checked, firstMismatch: r.firstMismatch };
};
