/** `ploppy leave`: leave the network and stop the server (optionally deleting the folder). */
import { existsSync, rmSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { isPloppyError } from '../../core/errors.js';
import { callControl } from '../../daemon/control.js';
import { readConfig } from '../../daemon/config.js';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { emit, handled } from '../render.js';

type Args = HomeArgs & { delete: boolean };

const module_: CommandModule<object, Args> = {
  command: 'leave',
  describe: "leave the network and stop the server; this host's network state is removed",
  builder: (y) => withHome(y).option('delete', { type: 'boolean', default: false, describe: 'also delete the shared folder' }),
  handler: handled(async (argv) => {
    const paths = resolveNetwork(argv.home, argv.name);
    const config = readConfig(paths);
    try {
      await callControl(paths.socket, { op: 'leave', deleteDir: argv.delete });
    } catch (e) {
      if (!isPloppyError(e, 'DAEMON_NOT_RUNNING')) throw e;
    }
    rmSync(paths.root, { recursive: true, force: true });
    if (argv.delete && existsSync(config.dir)) rmSync(config.dir, { recursive: true, force: true });
    emit(argv.json, { name: paths.name, deletedDir: argv.delete ? config.dir : null }, () =>
      `ploppy: left network ${paths.name}${argv.delete ? ` and deleted ${config.dir}` : ` (${config.dir} kept)`}`,
    );
  }),
};
export default module_;
