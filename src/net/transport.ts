/**
 * The transport: a listening socket and outgoing dials, plain TCP or TLS 1.3
 * with the network secret as pre-shared key (src/net/secret.ts).
 *
 * Theory of operation: every connection, in or out, becomes a Session as soon
 * as its bytes can flow (TCP connected, or TLS up). The session runs the HELLO
 * handshake; when it is ready the transport hands it to `onPeer`, the one
 * place the daemon attaches its 'message' and 'close' listeners. `dial`
 * resolves with the same session (after onPeer) or rejects with a PloppyError
 * saying why: PEER_UNREACHABLE, PEER_TIMEOUT, SECRET_REJECTED,
 * PEER_WRONG_NETWORK, PEER_SELF... Failures of incoming connections have no
 * caller to reject, so they go to `onError`. Retrying is the caller's choice
 * (see Redialer in src/net/redial.ts).
 *
 * By default the OS picks the port; `address` is the real one, and HELLO
 * announces `announce` (default: `address`). A wildcard host (0.0.0.0) in an
 * announcement is replaced by the receiver with the IP it sees.
 */
import type { Buffer } from 'node:buffer';
import net from 'node:net';
import tls from 'node:tls';
import { dialTimeoutMs, inboundConnectionsMax } from '../core/constants.js';
import { PloppyError, isPloppyError } from '../core/errors.js';
import type { PeerId } from '../core/ids.js';
import { formatAddress, parseAddress } from './address.js';
import { derivePskAsync, tlsClientOptions, tlsHandshakeError, tlsServerOptions } from './secret.js';
import { Session } from './session.js';

export interface TransportOptions {
  readonly networkName: string;
  /** The network id, or '' / undefined while joining (not known yet). */
  readonly networkId?: string;
  readonly peerId: PeerId;
  /** `HOST:PORT` to listen on; default `0.0.0.0:0` (all interfaces, the OS picks the port). */
  readonly listen?: string;
  /** The address to announce in HELLO; default: the address actually listened on. */
  readonly announce?: string;
  /** The network secret: with it every connection is TLS 1.3 with a key derived from it. */
  readonly secret?: string;
  /** A session (incoming or dialled) passed its handshake. Attach listeners here, synchronously. */
  readonly onPeer: (session: Session) => void;
  /** An incoming connection failed before it became ready (wrong secret, wrong network...). */
  readonly onError?: (error: PloppyError, remote: string) => void;
  /** Default handshakeTimeoutMs (HELLO; TLS has its own, equal, timeout); tests lower it. */
  readonly handshakeTimeoutMs?: number;
}

export interface Transport {
  /** The address actually listened on (`HOST:PORT`). */
  readonly address: string;
  readonly secure: boolean;
  /** Sessions that passed their handshake and are not closed yet. */
  readonly sessions: ReadonlySet<Session>;
  /** Connect to a peer; resolves once its HELLO was accepted. */
  dial(address: string): Promise<Session>;
  /** Stop listening and close every session. */
  close(): Promise<void>;
}

/** Start listening; resolves once the socket is bound, with the real address. */
export async function createTransport(options: TransportOptions): Promise<Transport> {
  const psk = options.secret === undefined ? null : await derivePskAsync(options.secret, options.networkName);
  const transport = new NodeTransport(options, psk);
  await transport.listen();
  return transport;
}

const remoteOf = (socket: net.Socket): string =>
  socket.remoteAddress === undefined ? 'unknown peer' : formatAddress({ host: socket.remoteAddress, port: socket.remotePort ?? 0 });

function unreachable(error: Error, address: string): PloppyError {
  if (isPloppyError(error)) return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new PloppyError('PEER_UNREACHABLE', `cannot reach peer ${address}: ${error.message}`, { cause: code });
}

class NodeTransport implements Transport {
  readonly secure: boolean;
  readonly sessions = new Set<Session>();
  private boundAddress = '';
  private closed = false;
  private readonly psk: Buffer | null;
  private readonly server: net.Server;
  private readonly dialing = new Set<net.Socket>();
  private readonly handshaking = new Set<Session>();

  constructor(private readonly options: TransportOptions, psk: Buffer | null) {
    this.psk = psk;
    this.secure = this.psk !== null;
    if (this.psk === null) {
      this.server = net.createServer((socket) => this.adopt(socket, 'in', remoteOf(socket)));
    } else {
      const server = tls.createServer(tlsServerOptions(this.psk), (socket) => this.adopt(socket, 'in', remoteOf(socket)));
      server.on('tlsClientError', (error, socket) => this.refused(tlsHandshakeError(error, remoteOf(socket), 'server'), remoteOf(socket)));
      this.server = server;
    }
    this.server.maxConnections = inboundConnectionsMax;
  }

  get address(): string {
    return this.boundAddress;
  }

  listen(): Promise<void> {
    const { host, port } = parseAddress(this.options.listen ?? '0.0.0.0:0');
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void =>
        reject(new PloppyError('LISTEN_FAILED', `cannot listen on ${formatAddress({ host, port })}: ${error.message}`));
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.off('error', onError);
        // After listening, a server error (e.g. too many open files on accept) must not crash the daemon.
        this.server.on('error', (error) => this.refused(unreachable(error, 'listener'), this.address));
        const bound = this.server.address();
        if (bound === null || typeof bound === 'string') {
          reject(new PloppyError('LISTEN_FAILED', `listening on ${host}:${port} gave no TCP address`));
          return;
        }
        this.boundAddress = formatAddress({ host: bound.address, port: bound.port });
        resolve();
      });
    });
  }

  dial(address: string): Promise<Session> {
    return new Promise((resolve, reject) => {
      if (this.closed) throw new PloppyError('PEER_UNREACHABLE', `cannot dial ${address}: the transport is closed`);
      const { host, port } = parseAddress(address);
      const socket = this.psk === null ? net.connect({ host, port }) : tls.connect(tlsClientOptions(this.psk, host, port));
      this.dialing.add(socket);
      let tcpUp = false;
      const timer = setTimeout(() => {
        socket.destroy(new PloppyError('PEER_UNREACHABLE', `no answer from peer ${address} within ${dialTimeoutMs} ms`));
      }, dialTimeoutMs);
      const onEarlyError = (error: Error): void => {
        clearTimeout(timer);
        this.dialing.delete(socket);
        reject(tcpUp && this.psk !== null && !isPloppyError(error) ? tlsHandshakeError(error, address, 'client') : unreachable(error, address));
      };
      socket.once('error', onEarlyError);
      socket.once('connect', () => {
        tcpUp = true;
      });
      socket.once(this.psk === null ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        this.dialing.delete(socket);
        socket.off('error', onEarlyError);
        const session = this.adopt(socket, 'out', address);
        session.once('ready', () => resolve(session));
        session.once('close', (reason) => reject(reason.error ?? new PloppyError('PEER_UNREACHABLE', reason.message)));
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.dialing) socket.destroy();
    for (const session of [...this.handshaking, ...this.sessions]) session.close('this peer is shutting down');
    await stopped;
  }

  private adopt(socket: net.Socket, direction: 'in' | 'out', remoteLabel: string): Session {
    const session = new Session(socket, {
      networkName: this.options.networkName,
      networkId: this.options.networkId ?? '',
      peerId: this.options.peerId,
      listenAddress: this.options.announce ?? this.boundAddress,
      direction,
      remoteLabel,
      secure: this.secure,
      ...(this.options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: this.options.handshakeTimeoutMs }),
    });
    if (this.closed) session.close('this peer is shutting down');
    this.handshaking.add(session);
    session.once('ready', () => {
      this.handshaking.delete(session);
      this.sessions.add(session);
      this.options.onPeer(session);
    });
    session.once('close', (reason) => {
      this.handshaking.delete(session);
      this.sessions.delete(session);
      if (direction === 'in' && session.hello === null && reason.error !== null) this.refused(reason.error, remoteLabel);
    });
    return session;
  }

  private refused(error: PloppyError, remote: string): void {
    this.options.onError?.(error, remote);
  }
}
