/**
 * Child process for the LOCK test: opens the LevelEventLog at argv[2], says
 * "ready", and holds it until its stdin closes.
 */
import { LevelEventLog } from '../../../src/store/level-event-log.js';

const log = await LevelEventLog.open(process.argv[2] as string);
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => {
  void log.close().then(() => process.exit(0));
});
