/**
 * A network's configuration on this host (`networks/<name>/config.json`),
 * written by `create`/`join` and read by every later `start`. It holds the
 * secret, so it is created with mode 0600.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { PloppyError } from '../core/errors.js';
import type { PeerId } from '../core/ids.js';
import { isPeerId } from '../core/ids.js';
import type { NetworkPaths } from '../cli/home.js';

export interface NetworkConfig {
  readonly name: string;
  readonly networkId: string;
  readonly peer: PeerId;
  readonly dir: string;
  /** HOST:PORT to listen on; default 0.0.0.0:0 (the OS picks a port, announced in HELLO). */
  readonly listen: string | null;
  /**
   * Without --listen, the address the OS picked at the first start, reused at
   * every restart so peers that know it can reconnect (a fresh port is taken
   * only if it is no longer free).
   */
  readonly listenChosen?: string | null;
  readonly secret: string | null;
  readonly admin: string | null;
  /** How this host entered the network: created it, or joined through this peer address. */
  readonly origin: { kind: 'create' } | { kind: 'join'; via: string };
}

export function writeConfig(paths: NetworkPaths, config: NetworkConfig): void {
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  const tmp = `${paths.config}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, paths.config);
}

export function readConfig(paths: NetworkPaths): NetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(paths.config, 'utf8'));
  } catch (e) {
    throw new PloppyError('NETWORK_NOT_FOUND', `cannot read ${paths.config}: ${(e as Error).message}`);
  }
  const c = raw as NetworkConfig;
  if (typeof c.name !== 'string' || typeof c.dir !== 'string' || !isPeerId(c.peer)) {
    throw new PloppyError('NETWORK_NOT_FOUND', `${paths.config} is not a ploppy network configuration`);
  }
  return c;
}
