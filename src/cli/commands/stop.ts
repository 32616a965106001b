/** `ploppy stop`: stop this host's server for a network without leaving it. */
import type { CommandModule } from 'yargs';
import { callControl } from '../../daemon/control.js';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { emit, handled } from '../render.js';

const module_: CommandModule<object, HomeArgs> = {
  command: 'stop',
  describe: 'stop the server (the network and its log stay; `ploppy start` resumes)',
  builder: (y) => withHome(y),
  handler: handled(async (argv) => {
    const paths = resolveNetwork(argv.home, argv.name);
    const result = await callControl(paths.socket, { op: 'stop' });
    emit(argv.json, result, () => `ploppy: stopped network ${paths.name}`);
  }),
};
export default module_;
