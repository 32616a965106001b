/** `ploppy network`: every known host, how it is reachable, when last seen. */
import type { CommandModule } from 'yargs';
import { callControl } from '../../daemon/control.js';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { handled } from '../render.js';
import { formatTable } from '../table.js';
import type { NetworkRow } from '../../projections/views.js';

const module_: CommandModule<object, HomeArgs & { 'as-of'?: string }> = {
  command: 'network',
  describe: 'show every host on the network: address, reachability (direct, through others, gone) and when last seen',
  builder: (y) => withHome(y).option('as-of', { type: 'string', describe: 'show the network as it was at a sequence number or ISO time' }),
  handler: handled(async (argv) => {
    const paths = resolveNetwork(argv.home, argv.name);
    const rows = (await callControl(paths.socket, { op: 'network', asOf: argv['as-of'] })) as NetworkRow[];
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return;
    }
    process.stdout.write(
      formatTable(
        ['PEER', 'ADDRESS', 'REACHABLE', 'LAST SEEN'],
        rows.map((r) => [
          r.self ? `${r.peer} (this host)` : r.peer,
          r.address,
          r.reachability === 'indirect' && r.via !== null ? `through ${r.via.slice(0, 8)}` : r.reachability,
          r.lastSeen ?? '-',
        ]),
      ),
    );
  }),
};
export default module_;
