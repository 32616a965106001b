import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { blockSizeMaxBytes, frameBytesMax, handshakeFrameBytesMax, jsonDepthMax, outstandingRequestsPerPeerMax } from '../../../src/core/constants.js';
import { PloppyError, isPloppyError, type ErrorCode } from '../../../src/core/errors.js';
import type { BlockHash } from '../../../src/core/ids.js';
import type { WireMessage } from '../../../src/events/messages.js';
import { parseAddress } from '../../../src/net/address.js';
import { FrameDecoder, encodeFrame, parseFrame } from '../../../src/net/frame.js';
import type { CloseReason, Session } from '../../../src/net/session.js';
import { eventually, fakeHash, hashOf, mid, newPeerId, nextMessages, startPeer, type TestPeer } from './helpers.js';

const peers: TestPeer[] = [];
const start = async (options: Parameters<typeof startPeer>[0] = {}): Promise<TestPeer> => {
  const peer = await startPeer(options);
  peers.push(peer);
  return peer;
};
after(async () => {
  await Promise.all(peers.map((p) => p.transport.close()));
});

const closed = (session: Session): Promise<CloseReason> =>
  session.closeReason !== null && session.state !== 'ready' && session.state !== 'handshake'
    ? Promise.resolve(session.closeReason)
    : new Promise((resolve) => session.once('close', resolve));

/** Two connected peers: `b` dialled `a`. */
async function pair(): Promise<{ a: TestPeer; b: TestPeer; atA: Session; atB: Session }> {
  const a = await start();
  const b = await start();
  const atB = await b.transport.dial(a.transport.address);
  const atA = await eventually(() => a.sessions.find((s) => s.hello?.uuid === b.peerId), 'A sees B');
  return { a, b, atA, atB };
}

/** A hand-driven client: a raw socket that speaks whatever bytes a test wants. */
class RawClient {
  readonly received: WireMessage[] = [];
  private readonly decoder = new FrameDecoder();
  ended = false;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.decoder.feed(chunk)) this.received.push(parseFrame(frame));
    });
    socket.on('close', () => {
      this.ended = true;
    });
    socket.on('error', () => undefined);
  }

  static async connect(address: string): Promise<RawClient> {
    const { host, port } = parseAddress(address);
    const socket = net.connect({ host, port });
    await new Promise((resolve) => socket.once('connect', resolve));
    return new RawClient(socket);
  }

  hello(networkName = 'testnet'): void {
    this.send({ cmd: 'HELLO', id: mid(), name: networkName, uuid: newPeerId(), address: '0.0.0.0:9', network: '' });
  }

  send(msg: WireMessage): void {
    this.socket.write(encodeFrame(msg));
  }

  /** Wait for the server to refuse us: the ERROR frame's code, and the connection closed. */
  async refusal(): Promise<string> {
    await eventually(() => this.ended, 'the server closes the connection');
    const error = this.received.find((m) => m.cmd === 'ERROR');
    assert.ok(error?.cmd === 'ERROR', `an ERROR frame before the close, got ${this.received.map((m) => m.cmd).join(',')}`);
    return error.code;
  }
}

describe('session handshake', () => {
  it('connects two peers; each knows the other and where to dial it back', async () => {
    const { a, b, atA, atB } = await pair();
    assert.equal(atB.state, 'ready');
    assert.equal(atB.peerId, a.peerId);
    assert.equal(atA.peerId, b.peerId);
    assert.equal(atB.peerListenAddress, a.transport.address);
    assert.equal(atA.peerListenAddress, b.transport.address);
    assert.equal(atA.hello?.name, 'testnet');
    assert.deepEqual(a.errors, []);
  });

  it('exchanges messages both ways, in order', async () => {
    const { atA, atB } = await pair();
    const sent: WireMessage[] = [
      { cmd: 'PING', id: mid() },
      { cmd: 'LIST', id: mid(), since: 0 },
    ];
    const atAGets = nextMessages(atA, 2);
    for (const m of sent) assert.equal(atB.send(m), true);
    assert.deepEqual(await atAGets, sent);
    const pong: WireMessage = { cmd: 'PONG', id: mid(), ping: sent[0]?.id ?? mid() };
    const atBGets = nextMessages(atB, 1);
    atA.send(pong);
    assert.deepEqual(await atBGets, [pong]);
  });

  it('refuses a peer of another network on both sides, with PEER_WRONG_NETWORK', async () => {
    const a = await start({ networkName: 'alpha' });
    const b = await start({ networkName: 'beta' });
    await assert.rejects(b.transport.dial(a.transport.address), (error: unknown) => {
      assert.ok(isPloppyError(error, 'PEER_WRONG_NETWORK'), String(error));
      assert.match(error.message, /"alpha", not "beta"/);
      return true;
    });
    const atA = await eventually(() => a.errors[0], 'A reports the refusal');
    assert.ok(isPloppyError(atA, 'PEER_WRONG_NETWORK'));
    assert.match(atA.message, /network "beta", not "alpha"/);
    assert.equal(a.sessions.length, 0);
    assert.equal(b.sessions.length, 0);
  });

  it('refuses a network of the same name but another id', async () => {
    const a = await start({ networkId: randomUUID() });
    const b = await start({ networkId: randomUUID() });
    await assert.rejects(b.transport.dial(a.transport.address), (e: unknown) => isPloppyError(e, 'PEER_WRONG_NETWORK'));
    const joiner = await start({ networkId: '' });
    const session = await joiner.transport.dial(a.transport.address);
    assert.equal(session.state, 'ready', 'a joiner, which does not know the id yet, is checked by name only');
  });

  it('refuses to talk to itself', async () => {
    const a = await start();
    await assert.rejects(a.transport.dial(a.transport.address), (e: unknown) => isPloppyError(e, 'PEER_SELF'));
  });

  it('says PEER_UNREACHABLE when nothing listens', async () => {
    const a = await start();
    const address = a.transport.address;
    await a.transport.close();
    const b = await start();
    await assert.rejects(b.transport.dial(address), (e: unknown) => isPloppyError(e, 'PEER_UNREACHABLE'));
  });

  it('refuses anything but HELLO first', async () => {
    const a = await start();
    const raw = await RawClient.connect(a.transport.address);
    raw.send({ cmd: 'PING', id: mid() });
    assert.equal(await raw.refusal(), 'PEER_BAD_MESSAGE');
    assert.ok(isPloppyError(await eventually(() => a.errors[0], 'A reports it'), 'PEER_BAD_MESSAGE'));
  });

  it('drops a peer that sends no HELLO in time', async () => {
    const a = await start({ handshakeTimeoutMs: 50 });
    const raw = await RawClient.connect(a.transport.address);
    assert.equal(await raw.refusal(), 'PEER_TIMEOUT');
    assert.ok(isPloppyError(await eventually(() => a.errors[0], 'A reports it'), 'PEER_TIMEOUT'));
  });

  it('accepts only small frames before the handshake is done', async () => {
    const a = await start();
    const raw = await RawClient.connect(a.transport.address);
    raw.socket.write(`HELLO ${handshakeFrameBytesMax + 1} `);
    assert.equal(await raw.refusal(), 'PEER_LIMIT_EXCEEDED');
  });

  it('reports the peer\'s refusal as the close reason', async () => {
    const { atA, atB } = await pair();
    const reasonAtB = closed(atB);
    atA.fail(new PloppyError('PEER_LIMIT_EXCEEDED', 'too much'));
    const reason = await reasonAtB;
    assert.equal(reason.kind, 'remote');
    assert.ok(isPloppyError(reason.error, 'PEER_LIMIT_EXCEEDED'));
    assert.match(reason.error.message, /refused: too much/);
    assert.equal(atB.send({ cmd: 'PING', id: mid() }), false, 'a closed session sends nothing and does not throw');
  });

  it('tells the other side when this side closes', async () => {
    const { atA, atB } = await pair();
    const reasonAtA = closed(atA);
    atB.close('bye');
    assert.equal((await closed(atB)).kind, 'local');
    const reason = await reasonAtA;
    assert.equal(reason.kind, 'remote');
    assert.equal(reason.error, null);
  });
});

describe('a bad peer is cut off alone', () => {
  const header = JSON.stringify({ id: randomUUID(), hash: fakeHash(1) });
  let deep: unknown = 0;
  for (let i = 0; i <= jsonDepthMax; i++) deep = { d: deep };
  const cases: { name: string; code: ErrorCode; bytes: () => Buffer }[] = [
    { name: 'junk bytes', code: 'PEER_BAD_FRAME', bytes: () => Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
    { name: 'a lowercase command', code: 'PEER_BAD_FRAME', bytes: () => Buffer.from('ping 2 {}') },
    { name: 'an overlong command name', code: 'PEER_LIMIT_EXCEEDED', bytes: () => Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ') },
    { name: 'an unknown command', code: 'PEER_BAD_MESSAGE', bytes: () => Buffer.from('FROB 2 {}') },
    { name: 'a frame over frameBytesMax', code: 'PEER_LIMIT_EXCEEDED', bytes: () => Buffer.from(`IHAVE ${frameBytesMax + 1} `) },
    { name: 'a length with letters', code: 'PEER_BAD_FRAME', bytes: () => Buffer.from('PING 1a ') },
    { name: 'a payload that is not JSON', code: 'PEER_BAD_FRAME', bytes: () => Buffer.from('PING 3 {{{') },
    { name: 'JSON nested too deep', code: 'PEER_LIMIT_EXCEEDED', bytes: () => encodeJson('PING', { id: randomUUID(), deep }) },
    { name: 'a path escaping the folder', code: 'PEER_BAD_MESSAGE', bytes: () => encodeJson('IMOVED', { id: randomUUID(), oldpath: 'a', newpath: '../../x' }) },
    { name: 'a second HELLO', code: 'PEER_BAD_MESSAGE', bytes: () => encodeJson('HELLO', { id: randomUUID(), name: 'testnet', uuid: newPeerId(), address: 'x:1', network: '' }) },
    { name: 'an unrequested HEREIS', code: 'PEER_BAD_MESSAGE', bytes: () => Buffer.from(`HEREIS ${header.length + 6} ${header.length} ${header}block`) },
    {
      name: 'too many outstanding block requests',
      code: 'PEER_LIMIT_EXCEEDED',
      bytes: () => {
        const hashes = Array.from({ length: outstandingRequestsPerPeerMax + 1 }, (_, i) => fakeHash(i));
        return Buffer.concat([encodeJson('IWANT', { id: randomUUID(), hashes: hashes.slice(0, 40) }), encodeJson('IWANT', { id: randomUUID(), hashes: hashes.slice(40) })]);
      },
    },
  ];

  for (const { name, code, bytes } of cases) {
    it(`${name}: ${code}, and the other session on the listener keeps working`, async () => {
      const { a, atA, atB } = await pair();
      const raw = await RawClient.connect(a.transport.address);
      raw.hello();
      await eventually(() => a.sessions.length === 2, 'A accepts the raw client');
      const rawAtA = a.sessions[1] as Session;
      const reasonAtA = closed(rawAtA);
      raw.socket.write(bytes());
      assert.equal(await raw.refusal(), code);
      const reason = await reasonAtA;
      assert.equal(reason.kind, 'error');
      assert.ok(isPloppyError(reason.error, code), String(reason.error));

      assert.equal(atA.state, 'ready');
      const got = nextMessages(atA, 1);
      const ping: WireMessage = { cmd: 'PING', id: mid() };
      assert.equal(atB.send(ping), true);
      assert.deepEqual(await got, [ping]);
    });
  }
});

function encodeJson(cmd: string, payload: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(payload));
  return Buffer.concat([Buffer.from(`${cmd} ${json.length} `), json]);
}

describe('block requests', () => {
  it('keeps at most the allowed number of hashes in flight and queues the rest', async () => {
    const { atA, atB } = await pair();
    const wanted = Array.from({ length: 100 }, (_, i) => fakeHash(i));
    const seenAtA: BlockHash[] = [];
    atA.on('message', (m) => {
      if (m.cmd === 'IWANT') seenAtA.push(...m.hashes);
    });
    assert.equal(atB.send({ cmd: 'IWANT', id: mid(), hashes: wanted }), true);
    assert.equal(atB.send({ cmd: 'IWANT', id: mid(), hashes: wanted.slice(0, 10) }), false, 'hashes already asked are not asked again');
    await eventually(() => seenAtA.length === outstandingRequestsPerPeerMax, 'A sees the first window');
    assert.deepEqual(atB.outstanding, { serving: 0, requested: outstandingRequestsPerPeerMax, queued: 100 - outstandingRequestsPerPeerMax });
    assert.equal(atA.outstanding.serving, outstandingRequestsPerPeerMax);

    atA.send({ cmd: 'DONTHAVE', id: mid(), hashes: seenAtA.slice(0, 10) });
    await eventually(() => seenAtA.length === outstandingRequestsPerPeerMax + 10, 'B refills the window');
    assert.deepEqual(seenAtA, wanted.slice(0, outstandingRequestsPerPeerMax + 10), 'in request order, each once');
    assert.equal(atA.outstanding.serving, outstandingRequestsPerPeerMax);
  });

  it('drops answers to requests the peer did not make', async () => {
    const { atA } = await pair();
    const block = randomBytes(100);
    assert.equal(atA.send({ cmd: 'HEREIS', id: mid(), hash: hashOf(block), data: block }), false);
    assert.equal(atA.send({ cmd: 'DONTHAVE', id: mid(), hashes: [fakeHash(1)] }), false);
    assert.equal(atA.state, 'ready');
  });

  it('streams 16 MiB blocks byte-identical, waiting for the socket to drain', async () => {
    const { atA, atB } = await pair();
    const blocks = Array.from({ length: 4 }, () => randomBytes(blockSizeMaxBytes));
    const byHash = new Map(blocks.map((b) => [hashOf(b), b]));
    let drainWaits = 0;
    atA.on('message', (m) => {
      if (m.cmd !== 'IWANT') return;
      void (async () => {
        for (const hash of m.hashes) {
          if (atA.needsDrain) drainWaits += 1;
          await atA.drained();
          const data = byHash.get(hash);
          assert.ok(data !== undefined);
          atA.send({ cmd: 'HEREIS', id: mid(), hash, data });
        }
      })();
    });
    const got = nextMessages(atB, blocks.length);
    atB.send({ cmd: 'IWANT', id: mid(), hashes: [...byHash.keys()] });
    const received = await got;
    for (const [i, m] of received.entries()) {
      assert.ok(m.cmd === 'HEREIS');
      assert.equal(hashOf(m.data), m.hash);
      assert.equal(Buffer.compare(Buffer.from(m.data), blocks[i] as Buffer), 0);
    }
    assert.ok(drainWaits > 0, 'the socket buffer filled up at least once, and the server waited');
    assert.deepEqual(atB.outstanding, { serving: 0, requested: 0, queued: 0 });
    assert.deepEqual(atA.outstanding, { serving: 0, requested: 0, queued: 0 });
  });
});
