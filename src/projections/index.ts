export * from './state.js';
export * from './snapshot.js';
