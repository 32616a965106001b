/** Options shared by the command modules. */
import type { Argv } from 'yargs';
import { defaultHome } from './home.js';

export interface HomeArgs {
  home: string;
  name: string | undefined;
  json: boolean;
}

export const withHome = <T>(y: Argv<T>): Argv<T & HomeArgs> =>
  y
    .option('home', { type: 'string', default: defaultHome(), defaultDescription: '$PLOPPY_HOME or ~/.ploppy', describe: 'ploppy home directory' })
    .option('name', { type: 'string', describe: 'network name (may be left out when the home holds one network)' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as Argv<T & HomeArgs>;
