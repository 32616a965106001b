/**
 * `ploppy import FILE [--verify]`: check an export's hash chain and rebuild
 * the projections from it, with no daemon and no network; prints the
 * projection hash (equal to the one `export` printed for the same log).
 * Exit 0 when the chain holds (and, with --verify, the decisions re-derive), else 1.
 */
import type { CommandModule } from 'yargs';
import { importFile, importText } from '../../audit/index.js';
import { emit, exitCodes, handled } from '../render.js';

interface Args {
  file: string;
  verify: boolean;
  json: boolean;
}

const module_: CommandModule<object, Args> = {
  command: 'import <file>',
  describe: 'check an exported log (NDJSON) and rebuild its projections offline; prints the projection hash',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'an NDJSON file written by ploppy export' })
      .option('verify', { type: 'boolean', default: false, describe: "also re-run the engine's decisions over the recorded inputs" })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as never,
  handler: handled(async (argv: Args) => {
    const { report } = await importFile(argv.file, { verifyDecisions: argv.verify });
    emit(argv.json, report, () => importText(report));
    return report.ok ? exitCodes.ok : exitCodes.failure;
  }),
};
export default module_;
