/** `ploppy start`: restart a stopped or crashed peer from its log. */
import type { CommandModule } from 'yargs';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { handled } from '../render.js';
import { runDaemon } from '../run-daemon.js';
import { existsSync } from 'node:fs';
import { PloppyError } from '../../core/errors.js';
import { networkPaths } from '../home.js';

type Args = HomeArgs & { detach: boolean };

const module_: CommandModule<object, Args> = {
  command: 'start',
  describe: 'start (or restart after a crash) the server of a network this host is on',
  builder: (y) => withHome(y).option('detach', { type: 'boolean', default: false, describe: 'run in the background; return once listening' }),
  handler: handled(async (argv) => {
    const paths = argv.name !== undefined ? networkPaths(argv.home, argv.name) : resolveNetwork(argv.home, undefined);
    if (!existsSync(paths.config)) throw new PloppyError('NETWORK_NOT_FOUND', `this home is not on network ${paths.name} (no ${paths.config})`);
    return runDaemon(paths, { home: argv.home, detach: argv.detach, json: argv.json });
  }),
};
export default module_;
