/** `ploppy resolve PATH --keep winner|other|both`: settle a conflict; the resolution propagates to every peer. */
import type { CommandModule } from 'yargs';
import { callControl } from '../../daemon/control.js';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { emit, handled } from '../render.js';

type Args = HomeArgs & { path: string; keep: 'winner' | 'other' | 'both' };

const module_: CommandModule<object, Args> = {
  command: 'resolve <path>',
  describe: 'resolve a conflict: keep the winner, the other version, or both (the copy becomes an ordinary file)',
  builder: (y) =>
    withHome(y)
      .positional('path', { type: 'string', demandOption: true, describe: 'the conflicted path (or its conflict copy)' })
      .option('keep', { choices: ['winner', 'other', 'both'] as const, demandOption: true, describe: 'which version to keep' }),
  handler: handled(async (argv) => {
    const paths = resolveNetwork(argv.home, argv.name);
    const result = (await callControl(paths.socket, { op: 'resolve', path: argv.path, keep: argv.keep })) as { path: string; copyPath: string };
    emit(argv.json, result, () => `ploppy: resolved ${result.path} (kept ${argv.keep}; conflict copy ${result.copyPath})`);
  }),
};
export default module_;
