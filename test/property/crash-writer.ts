/**
 * Child process of the crash test: writes the crash workload for
 * `argv[3]` (seed) and `argv[4]` (events) to a LevelEventLog at `argv[2]`,
 * printing `durable SEQ` as each write becomes durable, until it is killed.
 */
import { LevelEventLog } from '../../src/store/level-event-log.js';
import { crashWrites, runWorkload } from './crash-workload.js';

const [dir, seed, events] = process.argv.slice(2);
const log = await LevelEventLog.open(dir as string);
process.stdout.write('ready\n');
await runWorkload(log, crashWrites(Number(seed), Number(events)), 32, (seq) => process.stdout.write(`durable ${seq}\n`));
await log.close();
process.stdout.write('done\n');
