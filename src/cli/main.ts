/**
 * ploppy's command line: one yargs module per command in ./commands.
 * Usage errors exit 2, operational errors 1 (see render.ts).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands/index.js';
import { exitCodes } from './render.js';

const cli = yargs(hideBin(process.argv))
  .scriptName('ploppy')
  .usage('$0 <command> [options]')
  .command(commands)
  .demandCommand(1, 'name a command (see --help)')
  .strict()
  .recommendCommands()
  .help()
  .version()
  .fail((message, error) => {
    if (error !== undefined && error !== null) throw error;
    process.stderr.write(`ploppy: ${message}\nRun 'ploppy --help' for usage.\n`);
    process.exit(exitCodes.usage);
  });

await cli.parseAsync();
