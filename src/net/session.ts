/**
 * A session: one peer connection, after TLS (when there is a secret) is up.
 *
 * Theory of operation (h11's connection states, reduced to what ploppy needs):
 *
 *     handshake ──valid HELLO for our network──▶ ready ──close / peer ended / lost──▶ closed
 *         │                                        │
 *         └────────── anything the peer must not send ──────────▶ error
 *
 * Both sides send HELLO as soon as the connection is up, without waiting.
 * Until the peer's HELLO is accepted, frames are limited to
 * handshakeFrameBytesMax, so an unauthenticated connection cannot make us
 * buffer a 16 MiB frame. A
 * session becomes 'ready' only when the peer's HELLO names our network (and,
 * when both sides know it, the same network id) and is not from ourselves;
 * only then does it emit 'ready' and, after that, 'message'. 'closed' and
 * 'error' are sticky: nothing is delivered or sent after them, and every later
 * call is a harmless no-op. The first bad frame, bad message or broken limit
 * moves the session to 'error': the peer gets one ERROR frame with the code,
 * the socket is ended (and destroyed if it lingers), and 'close' carries the
 * PloppyError. Nothing a peer sends can make a session throw into the daemon.
 *
 * Block requests are bounded both ways. As a server, a peer may have at most
 * outstandingRequestsPerPeerMax requested hashes that we have not answered
 * (each IWANT hash is answered by exactly one HEREIS or DONTHAVE); one more is
 * PEER_LIMIT_EXCEEDED. HEREIS/DONTHAVE for a hash the peer did not ask for in
 * this session is dropped by send(), so a late answer to a request from a
 * previous connection is harmless. As a client, send() never puts more than
 * that many hashes in flight: a hash already in flight is not asked again, and
 * hashes beyond the limit wait in a bounded queue until answers come back. A
 * HEREIS we did not ask for is a protocol violation (it would let a peer make
 * us buffer blocks at will).
 *
 * Backpressure: send() queues in the socket like socket.write (for HEREIS,
 * `onWritten` says when the socket is done with the block's bytes); `needsDrain`
 * and `drained()` tell the driver to wait before reading the next block to
 * serve. `pause()`/`resume()` stop and restart reading from the peer.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { assert } from '../core/assert.js';
import {
  frameBytesMax,
  handshakeFrameBytesMax,
  handshakeTimeoutMs,
  hashesPerWantMax,
  outstandingRequestsPerPeerMax,
  sessionCloseTimeoutMs,
  wantQueueHashesMax,
} from '../core/constants.js';
import { ErrorCodes, PloppyError, isPloppyError, type ErrorCode } from '../core/errors.js';
import type { BlockHash, MessageId, PeerId } from '../core/ids.js';
import type { MessageOf, WireMessage } from '../events/messages.js';
import { dialableAddress } from './address.js';
import { FrameDecoder, encodeFrame, encodeMessage, parseFrame } from './frame.js';

export type SessionState = 'handshake' | 'ready' | 'closed' | 'error';
export type HelloMessage = MessageOf<'HELLO'>;

/** Why a session ended. */
export interface CloseReason {
  /**
   * 'local': this side closed it; 'remote': the peer ended it, cleanly or with
   * an ERROR; 'error': the peer sent something we refuse; 'lost': the
   * connection broke.
   */
  readonly kind: 'local' | 'remote' | 'error' | 'lost';
  /** Set for 'error', for a remote ERROR, and for any end before the handshake completed. */
  readonly error: PloppyError | null;
  readonly message: string;
}

export interface SessionEvents {
  ready: [hello: HelloMessage];
  message: [msg: WireMessage];
  close: [reason: CloseReason];
}

export interface SessionOptions {
  readonly networkName: string;
  /** The network id, or '' while joining (not known yet): then only the name is checked. */
  readonly networkId: string;
  readonly peerId: PeerId;
  /** The address this peer listens on, announced in HELLO. */
  readonly listenAddress: string;
  readonly direction: 'in' | 'out';
  /** How messages name the peer: the dialled address, or the connection's ip:port. */
  readonly remoteLabel: string;
  readonly secure: boolean;
  /** Default handshakeTimeoutMs; tests lower it. */
  readonly handshakeTimeoutMs?: number;
}

const tlsRecordHandshake = 0x16;
const isErrorCode = (code: string): code is ErrorCode => (ErrorCodes as readonly string[]).includes(code);
/** A peer's text, safe to print: no control characters. */
const printable = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
/** A PloppyError's message without its `CODE: ` prefix. */
const errorText = (error: PloppyError): string =>
  error.message.startsWith(`${error.code}: `) ? error.message.slice(error.code.length + 2) : error.message;
/** What the peer is told: `details.toPeer` when the error words it for the other side. */
const peerText = (error: PloppyError): string => {
  const toPeer = error.details?.toPeer;
  return typeof toPeer === 'string' ? toPeer : errorText(error);
};

export class Session extends EventEmitter<SessionEvents> {
  private stateNow: SessionState = 'handshake';
  private helloReceived: HelloMessage | null = null;
  private reason: CloseReason | null = null;
  private readonly decoder = new FrameDecoder(handshakeFrameBytesMax);
  private bytesReceived = 0;
  private handshakeTimer: NodeJS.Timeout | null;
  private closeTimer: NodeJS.Timeout | null = null;
  /** Hashes the peer asked us for and we have not answered, with multiplicity. */
  private readonly serving = new Map<BlockHash, number>();
  private servingTotal = 0;
  /** Hashes we asked the peer for that it has not answered. */
  private readonly requested = new Set<BlockHash>();
  /** Hashes waiting for room in `requested`, in request order. */
  private readonly wantQueue = new Set<BlockHash>();

  constructor(
    private readonly socket: Socket,
    readonly options: SessionOptions,
  ) {
    super();
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (error) => this.onSocketError(error));
    socket.on('close', () => this.onClose());
    this.handshakeTimer = setTimeout(() => this.onHandshakeTimeout(), this.handshakeLimitMs).unref();
    this.write({
      cmd: 'HELLO',
      id: randomUUID() as MessageId,
      name: options.networkName,
      uuid: options.peerId,
      address: options.listenAddress,
      network: options.networkId,
    });
  }

  get state(): SessionState {
    return this.stateNow;
  }

  /** The peer's HELLO (null until ready). */
  get hello(): HelloMessage | null {
    return this.helloReceived;
  }

  /** The peer's id; only meaningful once ready. */
  get peerId(): PeerId {
    assert(this.helloReceived !== null, 'peerId is known once the session is ready');
    return this.helloReceived.uuid;
  }

  /** Where the peer can be dialled back (its announced address, wildcard host filled in), or null. */
  get peerListenAddress(): string | null {
    return this.helloReceived === null ? null : dialableAddress(this.helloReceived.address, this.socket.remoteAddress);
  }

  get closeReason(): CloseReason | null {
    return this.reason;
  }

  get outstanding(): { serving: number; requested: number; queued: number } {
    return { serving: this.servingTotal, requested: this.requested.size, queued: this.wantQueue.size };
  }

  /** Bytes written to the session and not yet taken by the kernel (or by TLS). */
  get queuedBytes(): number {
    return this.isOpen ? this.socket.writableLength : 0;
  }

  /** True when the socket's buffer is full: wait for drained() before sending more blocks. */
  get needsDrain(): boolean {
    return this.isOpen && this.socket.writableNeedDrain;
  }

  /** Resolves when the socket can take more (at once if it can, or when the session ends). */
  drained(): Promise<void> {
    if (!this.needsDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.on('close', done);
    });
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /**
   * Send a message to a ready session. Returns false when nothing was sent: the
   * session is not ready (or is over), or a HEREIS/DONTHAVE answers nothing the
   * peer asked for in this session, or an IWANT asks only for hashes already in
   * flight or queued. Never throws for a peer's reasons.
   */
  send(msg: WireMessage, onWritten?: () => void): boolean {
    assert(msg.cmd !== 'HELLO', 'the session sends HELLO itself');
    if (this.stateNow !== 'ready') return false;
    switch (msg.cmd) {
      case 'IWANT':
        return this.sendWant(msg.id, msg.hashes);
      case 'HEREIS':
        if (!this.takeServing(msg.hash)) return false;
        this.write(msg, onWritten);
        return true;
      case 'DONTHAVE': {
        const hashes = msg.hashes.filter((hash) => this.takeServing(hash));
        if (hashes.length === 0) return false;
        this.write({ ...msg, hashes });
        return true;
      }
      default:
        break;
    }
    this.write(msg);
    return true;
  }

  /** End the session from this side. Idempotent. */
  close(message = 'closed by this peer'): void {
    if (!this.isOpen) return;
    this.stateNow = 'closed';
    this.reason = { kind: 'local', error: null, message };
    this.shutdown();
  }

  /**
   * Refuse the peer: move to 'error', tell the peer why (unless `toPeer` is
   * null) and end the connection. Also how the transport reports TLS
   * failures it sees on this socket. Idempotent.
   */
  fail(error: PloppyError, toPeer: string | null = peerText(error)): void {
    if (!this.isOpen) return;
    this.stateNow = 'error';
    this.reason = { kind: 'error', error, message: error.message };
    if (toPeer !== null && this.socket.writable) {
      this.socket.write(encodeFrame({ cmd: 'ERROR', id: randomUUID() as MessageId, code: error.code, message: toPeer }));
    }
    this.shutdown();
  }

  // ------------------------------------------------------------ receiving

  private get isOpen(): boolean {
    return this.stateNow === 'handshake' || this.stateNow === 'ready';
  }

  private onData(chunk: Buffer): void {
    if (!this.isOpen) return;
    if (this.bytesReceived === 0 && !this.options.secure && chunk[0] === tlsRecordHandshake) {
      const text = `refused peer ${this.options.remoteLabel}: it speaks TLS, so it was given a network secret, and this network has none`;
      this.fail(new PloppyError('SECRET_REJECTED', text), null);
      return;
    }
    this.bytesReceived += chunk.length;
    const frames = this.decoder.feed(chunk);
    for (;;) {
      let msg: WireMessage;
      try {
        const next = frames.next();
        if (next.done === true) return;
        msg = parseFrame(next.value);
        this.check(msg);
      } catch (error) {
        this.fail(this.asPeerError(error));
        return;
      }
      // Outside the try: a listener's exception is the daemon's bug, not the peer's.
      this.deliver(msg);
      if (!this.isOpen) return;
    }
  }

  /** Enforce the protocol's rules on a decoded message; throws a PloppyError to refuse it. */
  private check(msg: WireMessage): void {
    if (msg.cmd === 'ERROR') return;
    if (this.stateNow === 'handshake') {
      if (msg.cmd !== 'HELLO') throw new PloppyError('PEER_BAD_MESSAGE', `${msg.cmd} before HELLO`);
      this.checkHello(msg);
      return;
    }
    switch (msg.cmd) {
      case 'HELLO':
        throw new PloppyError('PEER_BAD_MESSAGE', 'a second HELLO');
      case 'IWANT':
        for (const hash of msg.hashes) this.addServing(hash);
        return;
      case 'HEREIS':
        if (!this.requested.delete(msg.hash)) {
          throw new PloppyError('PEER_BAD_MESSAGE', `HEREIS for block ${msg.hash.slice(0, 12)}, which was not asked for`);
        }
        this.flushWants();
        return;
      case 'DONTHAVE':
        for (const hash of msg.hashes) this.requested.delete(hash);
        this.flushWants();
        return;
      default:
        return;
    }
  }

  private checkHello(hello: HelloMessage): void {
    const { networkName, networkId, peerId } = this.options;
    const peer = this.options.remoteLabel;
    if (hello.name !== networkName) {
      throw new PloppyError(
        'PEER_WRONG_NETWORK',
        `peer ${peer} is on network ${JSON.stringify(printable(hello.name))}, not ${JSON.stringify(networkName)}`,
        { toPeer: `this peer is on network ${JSON.stringify(networkName)}, not ${JSON.stringify(printable(hello.name))}` },
      );
    }
    if (networkId !== '' && hello.network !== '' && hello.network !== networkId) {
      throw new PloppyError(
        'PEER_WRONG_NETWORK',
        `peer ${peer} is on another network named ${JSON.stringify(networkName)} (id ${printable(hello.network)}, ours is ${networkId})`,
        { toPeer: `this peer is on another network named ${JSON.stringify(networkName)} (id ${networkId})` },
      );
    }
    if (hello.uuid === peerId) {
      throw new PloppyError('PEER_SELF', `${peer} is this peer itself`, { toPeer: 'you connected to yourself' });
    }
    this.helloReceived = hello;
  }

  private deliver(msg: WireMessage): void {
    if (msg.cmd === 'ERROR') {
      this.endByPeerError(msg);
      return;
    }
    if (msg.cmd === 'HELLO') {
      this.stateNow = 'ready';
      this.decoder.frameLimitBytes = frameBytesMax;
      this.clearHandshakeTimer();
      this.emit('ready', msg);
      return;
    }
    this.emit('message', msg);
  }

  private endByPeerError(msg: MessageOf<'ERROR'>): void {
    const code: ErrorCode = isErrorCode(msg.code) ? msg.code : 'PEER_BAD_MESSAGE';
    const error = new PloppyError(code, `peer ${this.options.remoteLabel} refused: ${printable(msg.message)}`, { remoteCode: printable(msg.code) });
    this.stateNow = 'closed';
    this.reason = { kind: 'remote', error, message: error.message };
    this.shutdown();
  }

  private asPeerError(error: unknown): PloppyError {
    if (isPloppyError(error)) return error;
    // A bug of ours met by a peer's bytes: refuse the peer rather than crash the daemon.
    const text = error instanceof Error ? error.message : String(error);
    return new PloppyError('PEER_BAD_FRAME', `could not decode what peer ${this.options.remoteLabel} sent: ${text}`);
  }

  // ------------------------------------------------------------ requests

  private addServing(hash: BlockHash): void {
    if (this.servingTotal >= outstandingRequestsPerPeerMax) {
      throw new PloppyError('PEER_LIMIT_EXCEEDED', `more than ${outstandingRequestsPerPeerMax} requested blocks outstanding`);
    }
    this.serving.set(hash, (this.serving.get(hash) ?? 0) + 1);
    this.servingTotal += 1;
  }

  private takeServing(hash: BlockHash): boolean {
    const count = this.serving.get(hash);
    if (count === undefined) return false;
    if (count === 1) this.serving.delete(hash);
    else this.serving.set(hash, count - 1);
    this.servingTotal -= 1;
    return true;
  }

  private sendWant(id: MessageId, hashes: readonly BlockHash[]): boolean {
    let queued = false;
    for (const hash of hashes) {
      if (this.requested.has(hash) || this.wantQueue.has(hash)) continue;
      // Beyond the queue's bound a hash is dropped: the engine asks again when its request times out.
      if (this.wantQueue.size >= wantQueueHashesMax) break;
      this.wantQueue.add(hash);
      queued = true;
    }
    if (queued) this.flushWants(id);
    return queued;
  }

  /** Move queued hashes into flight, in IWANT batches, while the peer's limit allows. */
  private flushWants(firstId?: MessageId): void {
    let id = firstId;
    while (this.wantQueue.size > 0 && this.requested.size < outstandingRequestsPerPeerMax) {
      const batch: BlockHash[] = [];
      for (const hash of this.wantQueue) {
        if (this.requested.size >= outstandingRequestsPerPeerMax || batch.length >= hashesPerWantMax) break;
        this.wantQueue.delete(hash);
        this.requested.add(hash);
        batch.push(hash);
      }
      this.write({ cmd: 'IWANT', id: id ?? (randomUUID() as MessageId), hashes: batch });
      id = undefined;
    }
  }

  // ------------------------------------------------------------ the socket

  /** `onWritten`: the socket is done with the bytes (TLS has encrypted them, or the kernel has them). */
  private write(msg: WireMessage, onWritten?: () => void): void {
    const done = onWritten === undefined ? undefined : (): void => onWritten();
    const parts = encodeMessage(msg);
    if (parts.length === 1) {
      this.socket.write(parts[0] as Buffer, done);
      return;
    }
    // One writev for header and block: the block bytes are not copied into a frame.
    this.socket.cork();
    parts.forEach((part, i) => this.socket.write(part, i === parts.length - 1 ? done : undefined));
    this.socket.uncork();
  }

  private shutdown(): void {
    this.clearHandshakeTimer();
    this.requested.clear();
    this.wantQueue.clear();
    this.socket.end();
    this.socket.resume(); // read and drop whatever still comes, so the peer's FIN is seen
    this.closeTimer ??= setTimeout(() => this.socket.destroy(), sessionCloseTimeoutMs).unref();
  }

  private get handshakeLimitMs(): number {
    return this.options.handshakeTimeoutMs ?? handshakeTimeoutMs;
  }

  private onHandshakeTimeout(): void {
    this.handshakeTimer = null;
    this.fail(new PloppyError('PEER_TIMEOUT', `no HELLO from peer ${this.options.remoteLabel} within ${this.handshakeLimitMs} ms`));
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  /** The error for a connection that ended before the handshake completed. */
  private endedDuringHandshake(how: string): PloppyError {
    const peer = this.options.remoteLabel;
    if (this.options.direction === 'out' && this.bytesReceived === 0 && !this.options.secure) {
      // A TLS server closes a plain client without a word.
      return new PloppyError('SECRET_REJECTED', `peer ${peer} ${how} without a word: it probably requires a network secret (--secret)`);
    }
    return new PloppyError('PEER_UNREACHABLE', `peer ${peer} ${how} before its HELLO`);
  }

  private onEnd(): void {
    if (!this.isOpen) return;
    const during = this.stateNow === 'handshake';
    const error = during ? this.endedDuringHandshake('closed the connection') : null;
    this.stateNow = during ? 'error' : 'closed';
    this.reason = { kind: 'remote', error, message: error?.message ?? `peer ${this.options.remoteLabel} closed the connection` };
    this.shutdown();
  }

  private onSocketError(cause: Error): void {
    if (!this.isOpen) return;
    const during = this.stateNow === 'handshake';
    const how = `broke the connection (${(cause as NodeJS.ErrnoException).code ?? cause.message})`;
    const error = during ? this.endedDuringHandshake(how) : null;
    this.stateNow = during ? 'error' : 'closed';
    this.reason = { kind: 'lost', error, message: error?.message ?? `connection to ${this.options.remoteLabel} lost: ${cause.message}` };
    this.shutdown();
  }

  private onClose(): void {
    this.clearHandshakeTimer();
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    if (this.isOpen) {
      const during = this.stateNow === 'handshake';
      const error = during ? this.endedDuringHandshake('closed the connection') : null;
      this.stateNow = during ? 'error' : 'closed';
      this.reason = { kind: 'lost', error, message: error?.message ?? `connection to ${this.options.remoteLabel} closed` };
    }
    this.emit('close', this.reason ?? { kind: 'lost', error: null, message: 'closed' });
  }
}
