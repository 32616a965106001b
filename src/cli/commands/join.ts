/** `ploppy join`: join an existing network through one of its peers and start a server. */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { PloppyError } from '../../core/errors.js';
import { peerId } from '../../core/ids.js';
import { writeConfig } from '../../daemon/config.js';
import { parseAddress } from '../../net/address.js';
import { randomPeerId } from '../../store/node-ports.js';
import { networkPaths } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { handled } from '../render.js';
import { runDaemon } from '../run-daemon.js';

type Args = HomeArgs & { dir: string; peer: string; listen?: string; secret?: string; detach: boolean };

export function checkListen(address: string): string {
  try {
    parseAddress(address);
  } catch {
    throw new PloppyError('USAGE', `--listen must be HOST:PORT, not ${JSON.stringify(address)}`);
  }
  return address;
}

/** The seed's rule: DIR must not exist or be empty. */
function checkJoinDir(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new PloppyError('DIR_NOT_EMPTY', `${dir} exists and is not a directory`);
  if (readdirSync(dir).length > 0) throw new PloppyError('DIR_NOT_EMPTY', `${dir} is not empty; join needs a new or empty folder`);
}

const module_: CommandModule<object, Args> = {
  command: 'join',
  describe: 'join an existing network through a peer and start a server',
  builder: (y) =>
    withHome(y)
      .option('peer', { type: 'string', demandOption: true, describe: 'HOST:PORT of a peer already on the network' })
      .option('dir', { type: 'string', demandOption: true, describe: 'the folder to use (must not exist or be empty)' })
      .option('listen', { type: 'string', describe: 'HOST:PORT to listen on (default: any interface, a port the OS picks)' })
      .option('secret', { type: 'string', describe: 'the network secret printed by create' })
      .option('detach', { type: 'boolean', default: false, describe: 'run in the background; return once listening' })
      .demandOption('name'),
  handler: handled(async (argv) => {
    const name = argv.name as string;
    const paths = networkPaths(argv.home, name);
    if (existsSync(paths.db) || existsSync(paths.config)) throw new PloppyError('NETWORK_EXISTS', `this home is already on network ${name}; use 'ploppy start --name ${name}'`);
    try {
      parseAddress(argv.peer);
    } catch {
      throw new PloppyError('USAGE', `--peer must be HOST:PORT, not ${JSON.stringify(argv.peer)}`);
    }
    if (argv.listen !== undefined) checkListen(argv.listen);
    const dir = resolve(argv.dir);
    checkJoinDir(dir);
    mkdirSync(dir, { recursive: true });
    writeConfig(paths, {
      name, networkId: '', peer: peerId(randomPeerId()), dir, listen: argv.listen ?? null, secret: argv.secret ?? null,
      admin: null, origin: { kind: 'join', via: argv.peer },
    });
    return runDaemon(paths, { home: argv.home, detach: argv.detach, json: argv.json });
  }),
};
export default module_;
