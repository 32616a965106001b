import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { isPloppyError } from '../../../src/core/errors.js';
import type { WireMessage } from '../../../src/events/messages.js';
import { parseAddress } from '../../../src/net/address.js';
import { derivePsk, pskBytes, tlsClientOptions } from '../../../src/net/secret.js';
import { eventually, hashOf, mid, nextMessages, startPeer, type TestPeer } from './helpers.js';

const peers: TestPeer[] = [];
const start = async (options: Parameters<typeof startPeer>[0] = {}): Promise<TestPeer> => {
  const peer = await startPeer(options);
  peers.push(peer);
  return peer;
};
after(async () => {
  await Promise.all(peers.map((p) => p.transport.close()));
});

const secretRejected = (pattern: RegExp) => (error: unknown): boolean => {
  assert.ok(isPloppyError(error, 'SECRET_REJECTED'), String(error));
  assert.match(error.message, pattern);
  return true;
};

describe('network secret', () => {
  it('derives one 32-byte key per (secret, network name)', () => {
    const key = derivePsk('correct horse', 'photos');
    assert.equal(key.length, pskBytes);
    assert.deepEqual(derivePsk('correct horse', 'photos'), key);
    assert.notDeepEqual(derivePsk('correct horse!', 'photos'), key);
    assert.notDeepEqual(derivePsk('correct horse', 'photos2'), key);
    assert.deepEqual(derivePsk('caf\u00e9', 'n'), derivePsk('cafe\u0301', 'n'), 'the secret is NFC-normalised');
  });

  it('connects two peers with the same secret over TLS 1.3 and carries blocks', async () => {
    const a = await start({ secret: 'open sesame' });
    const b = await start({ secret: 'open sesame' });
    assert.ok(a.transport.secure);
    const atB = await b.transport.dial(a.transport.address);
    const atA = await eventually(() => a.sessions[0], 'A accepts B');
    assert.equal(atB.peerId, a.peerId);

    const block = randomBytes(3 * 1024 * 1024);
    const hash = hashOf(block);
    atA.on('message', (m) => {
      if (m.cmd === 'IWANT') atA.send({ cmd: 'HEREIS', id: mid(), hash, data: block });
    });
    const got = nextMessages(atB, 1);
    atB.send({ cmd: 'IWANT', id: mid(), hashes: [hash] });
    const [reply] = (await got) as [WireMessage];
    assert.ok(reply.cmd === 'HEREIS');
    assert.equal(Buffer.compare(Buffer.from(reply.data), block), 0);
  });

  it('encrypts: the secret-protected traffic is TLS 1.3 with a PSK suite', async () => {
    const a = await start({ secret: 's3cret' });
    const { host, port } = parseAddress(a.transport.address);
    const socket = tls.connect(tlsClientOptions(derivePsk('s3cret', 'testnet'), host, port));
    await new Promise((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    assert.equal(socket.getProtocol(), 'TLSv1.3');
    assert.match(socket.getCipher().name, /^TLS_(AES_128_GCM|CHACHA20_POLY1305)_SHA256$/);
    assert.deepEqual(socket.getPeerCertificate(), {}, 'no certificate: the key is the authentication');
    socket.destroy();
  });

  it('refuses a wrong secret, and both sides say so', async () => {
    const a = await start({ secret: 'right' });
    const b = await start({ secret: 'wrong' });
    await assert.rejects(b.transport.dial(a.transport.address), secretRejected(/refused: wrong network secret/));
    const atA = await eventually(() => a.errors[0], 'A reports the refusal');
    secretRejected(/refused peer .*: wrong network secret/)(atA);
    assert.equal(a.sessions.length, 0);
    assert.equal(b.sessions.length, 0);
  });

  it('refuses a peer without a secret, and both sides say so', async () => {
    const a = await start({ secret: 'right' });
    const b = await start();
    await assert.rejects(b.transport.dial(a.transport.address), secretRejected(/requires a network secret/));
    secretRejected(/refused peer .*: it does not speak TLS, so it has no network secret/)(await eventually(() => a.errors[0], 'A reports it'));
    assert.equal(a.sessions.length, 0);
  });

  it('refuses a peer with a secret when this network has none, and both sides say so', async () => {
    const a = await start();
    const b = await start({ secret: 'surprise' });
    await assert.rejects(b.transport.dial(a.transport.address), secretRejected(/refused the TLS handshake: it has no network secret/));
    secretRejected(/it speaks TLS, so it was given a network secret, and this network has none/)(await eventually(() => a.errors[0], 'A reports it'));
    assert.equal(a.sessions.length, 0);
  });

  it('a plain client sending protocol bytes to a TLS peer gets nothing back', async () => {
    const a = await start({ secret: 'right' });
    const { host, port } = parseAddress(a.transport.address);
    const socket = net.connect({ host, port });
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => undefined);
    socket.write('LIST 50 {"id":"00000000-0000-4000-8000-000000000000","since":0}');
    await new Promise((resolve) => socket.once('close', resolve));
    assert.equal(Buffer.concat(received).length, 0);
    assert.ok(isPloppyError(await eventually(() => a.errors[0], 'A reports it'), 'SECRET_REJECTED'));
  });
});
