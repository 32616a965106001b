/**
 * The audit: pure functions over recorded events that answer people's
 * questions about a peer's history (explain, conflicts, diff, export and
 * import, a picture of it, and replaying several peers' logs together).
 */
export * from './as-of.js';
export * from './conflicts.js';
export * from './diff.js';
export * from './explain.js';
export * from './from-logs.js';
export * from './ndjson.js';
export * from './perturb.js';
export * from './render.js';
export * from './story.js';
export * from './timeline.js';
export * from './versions.js';
export * from './queries.js';
export * from './files.js';
export * from './ignored.js';
