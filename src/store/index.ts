export * from './event-log.js';
export * from './encoding.js';
export * from './writer.js';
export * from './log-common.js';
export * from './memory-event-log.js';
export * from './level-event-log.js';
export * from './append.js';
export * from './node-ports.js';
