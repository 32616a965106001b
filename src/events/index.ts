export * from './types.js';
export * from './version.js';
export * from './messages.js';
export * from './codec.js';
