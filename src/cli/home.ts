/**
 * Where state lives (DESIGN.md): `--home` (env PLOPPY_HOME, default ~/.ploppy)
 * holds `networks/<name>/` with the LevelDB database, the control socket, the
 * daemon log and the configuration.
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { PloppyError } from '../core/errors.js';

export const defaultHome = (): string => process.env.PLOPPY_HOME ?? join(homedir(), '.ploppy');

export interface NetworkPaths {
  readonly name: string;
  readonly root: string;
  readonly db: string;
  readonly socket: string;
  readonly daemonLog: string;
  readonly config: string;
  readonly pidFile: string;
}

export const networksDir = (home: string): string => join(resolve(home), 'networks');

const validName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkNetworkName(name: string): string {
  if (!validName.test(name)) {
    throw new PloppyError('USAGE', `network name ${JSON.stringify(name)} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return name;
}

export function networkPaths(home: string, name: string): NetworkPaths {
  const root = join(networksDir(home), checkNetworkName(name));
  return {
    name,
    root,
    db: join(root, 'db'),
    socket: join(root, 'control.sock'),
    daemonLog: join(root, 'daemon.log'),
    config: join(root, 'config.json'),
    pidFile: join(root, 'daemon.pid'),
  };
}

export function listNetworks(home: string): string[] {
  const dir = networksDir(home);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'config.json')))
    .map((d) => d.name)
    .sort();
}

/** The network a command is about: `--name`, or the only one in the home. */
export function resolveNetwork(home: string, name: string | undefined): NetworkPaths {
  if (name !== undefined) {
    const paths = networkPaths(home, name);
    if (!existsSync(paths.config)) {
      throw new PloppyError('NETWORK_NOT_FOUND', `no network named ${JSON.stringify(name)} in ${networksDir(home)}`);
    }
    return paths;
  }
  const all = listNetworks(home);
  if (all.length === 0) throw new PloppyError('NETWORK_NOT_FOUND', `no networks in ${networksDir(home)}; run 'ploppy create' or 'ploppy join' first`);
  if (all.length > 1) throw new PloppyError('NETWORK_AMBIGUOUS', `${all.length} networks in this home (${all.join(', ')}): pass --name`);
  return networkPaths(home, all[0] as string);
}
