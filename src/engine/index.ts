/**
 * The sync engine's public surface: createEngine for drivers (daemon,
 * simulator), decide/verifyDecisions for `replay --verify`, and the contract
 * types.
 */
export { createEngine, type EngineOptions } from './engine.js';
export { decide, decisionTypes, isDecision } from './decide.js';
export { DecisionChecker, verifyDecisions, type DecisionCheck } from './verify.js';
export { conflictCopyPath, copyVersionOf, pickWinner, type Verdict } from './conflicts.js';
export { versionKey } from './plans.js';
export * from './types.js';
