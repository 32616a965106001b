/**
 * Peer addresses as the protocol writes them: `HOST:PORT`, with IPv6 hosts in
 * brackets (`[::1]:4000`). A peer that listens on a wildcard host (0.0.0.0 or
 * ::) cannot know which of its addresses another peer reaches it by, so the
 * receiver of its HELLO puts in the IP it sees the connection come from.
 */
import { addressBytesMax } from '../core/constants.js';
import { PloppyError } from '../core/errors.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const wildcardHosts = new Set(['', '0.0.0.0', '::', '[::]']);

/** Parse `HOST:PORT` (or `[V6]:PORT`); throws USAGE with the reason when it is not one. */
export function parseAddress(address: string): HostPort {
  if (address.length > addressBytesMax) throw new PloppyError('USAGE', `address longer than ${addressBytesMax}: ${address.slice(0, 40)}...`);
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(address);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) {
    throw new PloppyError('USAGE', `not a HOST:PORT address: ${JSON.stringify(address)}`);
  }
  return { host: match[1] ?? match[2] ?? '', port };
}

export function formatAddress({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export const isWildcardHost = (host: string): boolean => wildcardHosts.has(host);

/**
 * The address to dial a peer back on: its announced listen address, with a
 * wildcard host replaced by the IP its connection came from. Null when the
 * announcement is not an address at all.
 */
export function dialableAddress(announced: string, seenFromIp: string | undefined): string | null {
  let parsed: HostPort;
  try {
    parsed = parseAddress(announced);
  } catch {
    return null;
  }
  if (!isWildcardHost(parsed.host)) return formatAddress(parsed);
  if (seenFromIp === undefined || seenFromIp === '') return null;
  return formatAddress({ host: seenFromIp.replace(/^::ffff:(?=\d+\.)/, ''), port: parsed.port });
}
