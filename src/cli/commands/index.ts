/** Every command module, registered with yargs in main.ts. */
import type { CommandModule } from 'yargs';
import conflicts from './conflicts.js';
import create from './create.js';
import diff from './diff.js';
import explain from './explain.js';
import export_ from './export.js';
import import_ from './import.js';
import join from './join.js';
import leave from './leave.js';
import log from './log.js';
import network from './network.js';
import replay from './replay.js';
import resolve from './resolve.js';
import sim from './sim.js';
import start from './start.js';
import status from './status.js';
import stop from './stop.js';

// yargs command modules differ in their argument types; the array erases them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [create, join, start, stop, leave, network, status, conflicts, resolve, log, replay, explain, diff, export_, import_, sim];
