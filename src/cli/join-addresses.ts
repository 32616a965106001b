/**
 * The addresses another host can dial to join: a peer listening on a wildcard
 * host (0.0.0.0, ::) is reachable on each of this machine's interface
 * addresses, and `0.0.0.0:PORT` in a printed join command would only reach
 * the joining host itself.
 */
import { networkInterfaces } from 'node:os';
import { formatAddress, isWildcardHost, parseAddress } from '../net/address.js';

/** Dialable forms of `listening`, best first: external IPv4, external IPv6, then loopback. */
export function joinAddresses(listening: string, interfaces = networkInterfaces()): string[] {
  const { host, port } = parseAddress(listening);
  if (!isWildcardHost(host)) return [listening];
  // Link-local IPv6 (fe80::) needs a zone to be dialled: left out.
  const all = Object.values(interfaces).flatMap((list) => list ?? []).filter((a) => !a.address.toLowerCase().startsWith('fe80:'));
  const rank = (a: { family: string; internal: boolean }): number => (a.internal ? 2 : 0) + (a.family === 'IPv4' ? 0 : 1);
  const ordered = [...all].sort((a, b) => rank(a) - rank(b));
  const out = ordered.map((a) => formatAddress({ host: a.address, port }));
  return out.length > 0 ? [...new Set(out)] : [formatAddress({ host: '127.0.0.1', port })];
}
