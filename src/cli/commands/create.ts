/** `ploppy create`: create a network, share DIR, and start its server. */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { PloppyError } from '../../core/errors.js';
import { peerId } from '../../core/ids.js';
import { writeConfig } from '../../daemon/config.js';
import { randomPeerId } from '../../store/node-ports.js';
import { networkPaths } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { joinAddresses } from '../join-addresses.js';
import { handled } from '../render.js';
import { runDaemon } from '../run-daemon.js';
import { checkListen } from './join.js';

type Args = HomeArgs & { dir: string; listen?: string; secret?: string; admin?: string; detach: boolean };

const module_: CommandModule<object, Args> = {
  command: 'create',
  describe: 'create a new network sharing DIR and start its server',
  builder: (y) =>
    withHome(y)
      .option('dir', { type: 'string', demandOption: true, describe: 'the folder to share (created if missing; everything in it is shared)' })
      .option('listen', { type: 'string', describe: 'HOST:PORT to listen on (default: any interface, a port the OS picks)' })
      .option('secret', { type: 'string', describe: 'network secret (TLS pre-shared key); a random one is generated when left out' })
      .option('admin', { type: 'string', describe: 'email address of the person responsible for the network' })
      .option('detach', { type: 'boolean', default: false, describe: 'run in the background; return once listening' })
      .demandOption('name'),
  handler: handled(async (argv) => {
    const name = argv.name as string;
    const paths = networkPaths(argv.home, name);
    if (existsSync(paths.db) || existsSync(paths.config)) throw new PloppyError('NETWORK_EXISTS', `network ${name} already exists in ${argv.home}; use 'ploppy start --name ${name}'`);
    if (argv.listen !== undefined) checkListen(argv.listen);
    if (argv.secret !== undefined && argv.secret.length < 8) throw new PloppyError('USAGE', '--secret must be at least 8 characters');
    const dir = resolve(argv.dir);
    mkdirSync(dir, { recursive: true });
    const secret = argv.secret ?? randomBytes(18).toString('base64url');
    writeConfig(paths, {
      name, networkId: randomUUID(), peer: peerId(randomPeerId()), dir, listen: argv.listen ?? null, secret,
      admin: argv.admin ?? null, origin: { kind: 'create' },
    });
    return runDaemon(paths, {
      home: argv.home, detach: argv.detach, json: argv.json,
      ...(argv.secret === undefined ? { extra: { secret } } : {}),
      banner: (address) => {
        const [first, ...others] = joinAddresses(address);
        return [
          ...(argv.secret === undefined ? [`network secret (generated): ${secret}`] : []),
          `to join from another host, run:`,
          `  ploppy join --name ${name} --peer ${first ?? address} --secret ${secret} --dir DIR`,
          ...(others.length > 0 ? [`(or --peer any of: ${others.join(' ')})`] : []),
        ];
      },
    });
  }),
};
export default module_;
