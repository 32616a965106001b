/** Every command module, registered with yargs in main.ts. */
import type { CommandModule } from 'yargs';
import log from './log.js';
import replay from './replay.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs modules differ in their argument types
export const commands: CommandModule<any, any>[] = [log, replay];
