/**
 * The network secret as a TLS 1.3 pre-shared key, with node:tls only.
 *
 * Every peer derives the same 32-byte key from the secret and the network name
 * (scrypt, so a weak passphrase costs an eavesdropper real work per guess:
 * TLS 1.3's PSK binder lets anyone who saw a handshake test guesses offline).
 * The server has no certificate: a peer proves it holds the key by completing
 * the handshake, and OpenSSL's default PSK mode for TLS 1.3 (psk_dhe_ke) adds
 * an ECDHE exchange, so recorded traffic stays secret even if the key leaks
 * later. Only SHA-256 suites work: Node 20 hands callback PSKs to OpenSSL as
 * SHA-256 keys (TLS_AES_256_GCM_SHA384 fails with "no suitable signature
 * algorithm"). A client refuses any server that offers a certificate instead.
 *
 * The two ends see different TLS errors for a wrong key (the server: "binder
 * does not verify"; the client: an "illegal parameter" alert); both become
 * SECRET_REJECTED with a sentence a person can act on.
 */
import { Buffer } from 'node:buffer';
import { scrypt, scryptSync } from 'node:crypto';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { handshakeTimeoutMs } from '../core/constants.js';
import { PloppyError } from '../core/errors.js';

/** Sent in clear in the ClientHello: names the key derivation, not the network. */
export const pskIdentity = 'ploppy-psk-v1';
export const tlsCipherSuites = 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256';
export const pskBytes = 32;
const scryptCost = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

/** The PSK for (secret, network): scrypt(NFC secret, "ploppy-psk-v1:" + network name). */
export function derivePsk(secret: string, networkName: string): Buffer {
  return scryptSync(secret.normalize('NFC'), `${pskIdentity}:${networkName}`, pskBytes, scryptCost);
}

const derived = new Map<string, Promise<Buffer>>();

/**
 * derivePsk on the thread pool, once per (secret, network) in this process: a
 * daemon starts it first thing and its event loop goes on opening the log
 * meanwhile (scrypt at this cost takes a few hundred milliseconds).
 */
export function derivePskAsync(secret: string, networkName: string): Promise<Buffer> {
  const key = JSON.stringify([secret, networkName]);
  let p = derived.get(key);
  if (p === undefined) {
    p = new Promise((resolve, reject) => {
      scrypt(secret.normalize('NFC'), `${pskIdentity}:${networkName}`, pskBytes, scryptCost, (e, k) => (e === null ? resolve(k) : reject(e)));
    });
    derived.set(key, p);
    p.catch(() => derived.delete(key));
  }
  return p;
}

export function tlsServerOptions(psk: Buffer): TlsOptions {
  return {
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ciphers: tlsCipherSuites,
    handshakeTimeout: handshakeTimeoutMs,
    pskCallback: (_socket, identity) => (identity === pskIdentity ? psk : null),
  };
}

export function tlsClientOptions(psk: Buffer, host: string, port: number): ConnectionOptions {
  return {
    host,
    port,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ciphers: tlsCipherSuites,
    pskCallback: () => ({ psk, identity: pskIdentity }),
    // Only called when the server sends a certificate, which a ploppy peer never does.
    checkServerIdentity: () => new Error('a ploppy peer authenticates with the network secret, not a certificate'),
  };
}

const errorCode = (error: Error): string => (error as NodeJS.ErrnoException).code ?? '';
/** TLS errors that mean the other end is not speaking TLS at all. */
const notTlsCodes = /WRONG_VERSION_NUMBER|HTTP_REQUEST|HTTPS_PROXY_REQUEST|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG|RECORD_LENGTH_MISMATCH/;

/**
 * What a failed TLS handshake means, for the side that saw `error`; `peer`
 * names the other end. A client whose connection is reset before TLS is up
 * met a plain server (it hangs up on a ClientHello).
 */
export function tlsHandshakeError(error: Error, peer: string, side: 'client' | 'server'): PloppyError {
  const code = errorCode(error);
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
    return new PloppyError('PEER_TIMEOUT', `peer ${peer} did not complete the TLS handshake within ${handshakeTimeoutMs} ms`);
  }
  if (notTlsCodes.test(code) || (side === 'client' && !code.startsWith('ERR_SSL_'))) {
    const message = side === 'server'
      ? `refused peer ${peer}: it does not speak TLS, so it has no network secret (give it --secret)`
      : `peer ${peer} refused the TLS handshake: it has no network secret, or is not a ploppy peer`;
    return new PloppyError('SECRET_REJECTED', message, { tls: code });
  }
  if (!code.startsWith('ERR_SSL_')) {
    return new PloppyError('PEER_UNREACHABLE', `peer ${peer} went away during the TLS handshake (${code || error.message})`);
  }
  const message = side === 'server' ? `refused peer ${peer}: wrong network secret` : `peer ${peer} refused: wrong network secret`;
  return new PloppyError('SECRET_REJECTED', message, { tls: code });
}
