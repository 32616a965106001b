import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { blockSizeMaxBytes, commandNameBytesMax, frameBytesMax, hashesPerWantMax, hereisHeaderBytesMax, jsonDepthMax } from '../../../src/core/constants.js';
import { isPloppyError, type ErrorCode } from '../../../src/core/errors.js';
import { commands, type WireMessage } from '../../../src/events/messages.js';
import { FrameDecoder, encodeFrame, encodeMessage } from '../../../src/net/frame.js';
import { comparable, decodeAll, everyCommand, fakeHash, hashOf, mid, sampleMessages } from './helpers.js';

const throwsCode = (code: ErrorCode, run: () => unknown, pattern?: RegExp): void => {
  assert.throws(run, (error: unknown) => {
    assert.ok(isPloppyError(error, code), `expected ${code}, got ${String(error)}`);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
};
const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const frameOf = (cmd: string, payload: string | Buffer): Buffer => {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([bytes(`${cmd} ${body.length} `), body]);
};

describe('frame encoding', () => {
  it('round-trips one message of every command', () => {
    const messages = sampleMessages();
    assert.deepEqual(everyCommand(messages), new Set(commands));
    for (const msg of messages) {
      const [decoded, ...rest] = decodeAll(encodeFrame(msg));
      assert.equal(rest.length, 0);
      assert.deepEqual(comparable(decoded as WireMessage), comparable(msg), msg.cmd);
    }
  });

  it('writes the seed format: COMMAND, space, decimal length, space, payload', () => {
    const msg: WireMessage = { cmd: 'LIST', id: mid(), since: 7 };
    const text = encodeFrame(msg).toString('utf8');
    const json = JSON.stringify({ id: msg.id, since: 7 });
    assert.equal(text, `LIST ${Buffer.byteLength(json)} ${json}`);
  });

  it('counts the length in bytes, not characters', () => {
    const msg: WireMessage = { cmd: 'ERROR', id: mid(), code: 'X', message: 'ünïcödé ✓ 😀' };
    const frame = encodeFrame(msg);
    const [, length] = frame.toString('utf8').split(' ', 2);
    const headerBytes = `ERROR ${length} `.length;
    assert.equal(Number(length), frame.length - headerBytes);
    assert.deepEqual(decodeAll(frame), [msg]);
  });

  it('carries a 16 MiB block raw, byte-identical, without copying it on the way out', () => {
    const block = randomBytes(blockSizeMaxBytes);
    const msg: WireMessage = { cmd: 'HEREIS', id: mid(), hash: hashOf(block), data: block };
    const parts = encodeMessage(msg);
    assert.equal(parts.length, 2);
    const [head, data] = parts as [Buffer, Buffer];
    assert.equal(data.buffer, block.buffer, 'the block part is a view of the caller\'s bytes');
    assert.equal(data.byteOffset, block.byteOffset);
    const header = JSON.stringify({ id: msg.id, hash: msg.hash });
    const total = `${header.length} `.length + header.length + block.length;
    assert.equal(head.toString('latin1'), `HEREIS ${total} ${header.length} ${header}`, 'no base64: the frame is header plus raw bytes');

    const stream = Buffer.concat([head, data, encodeFrame({ cmd: 'PING', id: mid() })]);
    const decoded = decodeAll(stream, [65536, 1, 300_000, 7]);
    assert.equal(decoded.length, 2);
    const got = decoded[0];
    assert.ok(got?.cmd === 'HEREIS');
    assert.equal(got.hash, msg.hash);
    assert.equal(Buffer.compare(Buffer.from(got.data), block), 0);
    assert.equal(decoded[1]?.cmd, 'PING');
  });

  it('hands out a view, not a copy, when a frame arrives in one chunk', () => {
    const block = randomBytes(4096);
    const stream = encodeFrame({ cmd: 'HEREIS', id: mid(), hash: hashOf(block), data: block });
    const decoder = new FrameDecoder();
    const [frame] = [...decoder.feed(stream)];
    assert.equal(frame?.payload.buffer, stream.buffer);
  });

  it('decodes the same messages however the stream is cut', () => {
    const messages = sampleMessages(5000);
    const stream = Buffer.concat(messages.map(encodeFrame));
    const expected = messages.map(comparable);
    assert.deepEqual(decodeAll(stream, [1]).map(comparable), expected, 'byte by byte');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 40 }), (sizes) => {
        assert.deepEqual(decodeAll(stream, sizes).map(comparable), expected);
      }),
      { numRuns: 200 },
    );
  });

  it('decodes random message sequences cut at random points', () => {
    const pool = sampleMessages(300);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: pool.length - 1 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
        (picks, sizes) => {
          const messages = picks.map((i) => pool[i] as WireMessage);
          const stream = Buffer.concat(messages.map(encodeFrame));
          assert.deepEqual(decodeAll(stream, sizes).map(comparable), messages.map(comparable));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('frame limits', () => {
  it('refuses junk and non-ASCII bytes in a command name', () => {
    throwsCode('PEER_BAD_FRAME', () => decodeAll(Buffer.from([0x16, 0x03, 0x01, 0x00])), /0x16/);
    throwsCode('PEER_BAD_FRAME', () => decodeAll(bytes('ping 2 {}')), /0x70/);
    throwsCode('PEER_BAD_FRAME', () => decodeAll(Buffer.from('PÍNG 2 {}')));
    throwsCode('PEER_BAD_FRAME', () => decodeAll(bytes(' 2 {}')), /empty command/);
  });

  it('refuses a command name longer than the limit at the byte that breaks it', () => {
    const decoder = new FrameDecoder();
    const name = 'A'.repeat(commandNameBytesMax);
    assert.deepEqual([...decoder.feed(bytes(name))], []);
    throwsCode('PEER_LIMIT_EXCEEDED', () => [...decoder.feed(bytes('A'))], /command name longer/);
  });

  it('refuses an unknown command before reading its payload', () => {
    const decoder = new FrameDecoder();
    throwsCode('PEER_BAD_MESSAGE', () => [...decoder.feed(bytes('GIMME 5'))], /unknown command "GIMME"/);
  });

  it('refuses bad lengths: letters, empty, leading zeros, too many digits, too large', () => {
    throwsCode('PEER_BAD_FRAME', () => decodeAll(bytes('PING 1x ')), /0x78 in the length/);
    throwsCode('PEER_BAD_FRAME', () => decodeAll(bytes('PING  {}')), /empty length/);
    throwsCode('PEER_BAD_FRAME', () => decodeAll(bytes('PING 02 {}')), /leading zero/);
    throwsCode('PEER_LIMIT_EXCEEDED', () => decodeAll(bytes('PING 123456789')), /more than 8 digits/);
    throwsCode('PEER_LIMIT_EXCEEDED', () => decodeAll(bytes('PING 99999999')), /limit is/);
    const decoder = new FrameDecoder();
    throwsCode('PEER_LIMIT_EXCEEDED', () => [...decoder.feed(bytes(`HEREIS ${frameBytesMax + 1} `))], /limit is/);
    assert.equal(decoder.bufferedBytes, 0, 'nothing was buffered for the oversized frame');
  });

  it('accepts a frame of exactly frameBytesMax declared length (it only waits for the bytes)', () => {
    const decoder = new FrameDecoder();
    assert.deepEqual([...decoder.feed(bytes(`IHAVE ${frameBytesMax} {`))], []);
    assert.equal(decoder.bufferedBytes, 1);
  });

  it('refuses payloads that are not UTF-8 JSON', () => {
    throwsCode('PEER_BAD_FRAME', () => decodeAll(frameOf('PING', '{"id":')), /not JSON/);
    throwsCode('PEER_BAD_FRAME', () => decodeAll(frameOf('PING', Buffer.from([0x7b, 0xff, 0x7d]))), /not UTF-8/);
    throwsCode('PEER_BAD_FRAME', () => decodeAll(frameOf('LIST', '')), /not JSON/);
  });

  it('refuses messages that break validateMessage\'s bounds', () => {
    let deep: unknown = 1;
    for (let i = 0; i < jsonDepthMax + 2; i++) deep = [deep];
    throwsCode('PEER_LIMIT_EXCEEDED', () => decodeAll(frameOf('PING', JSON.stringify({ id: mid(), x: deep }))), /deeper/);
    const hashes = Array.from({ length: hashesPerWantMax + 1 }, (_, i) => fakeHash(i));
    throwsCode('PEER_LIMIT_EXCEEDED', () => decodeAll(frameOf('IWANT', JSON.stringify({ id: mid(), hashes }))), /more than/);
    const badPath = JSON.stringify({ id: mid(), oldpath: '../etc/passwd', version: {}, upTo: 1 });
    throwsCode('PEER_BAD_MESSAGE', () => decodeAll(frameOf('IDELETED', badPath)), /oldpath/);
    throwsCode('PEER_BAD_MESSAGE', () => decodeAll(frameOf('PING', JSON.stringify({ id: 'nope' }))), /UUID/);
  });

  it('refuses malformed HEREIS payloads', () => {
    const header = JSON.stringify({ id: mid(), hash: fakeHash(1) });
    throwsCode('PEER_BAD_FRAME', () => decodeAll(frameOf('HEREIS', `x${header}`)), /header length/);
    throwsCode('PEER_BAD_FRAME', () => decodeAll(frameOf('HEREIS', `${header.length + 5} ${header}`)), /past the end/);
    throwsCode('PEER_BAD_FRAME', () => decodeAll(frameOf('HEREIS', '123')), /ends inside/);
    throwsCode('PEER_LIMIT_EXCEEDED', () => decodeAll(frameOf('HEREIS', `${hereisHeaderBytesMax + 1} ${header}`)), /header of/);
    throwsCode('PEER_BAD_MESSAGE', () => decodeAll(frameOf('HEREIS', `2 {}abc`)), /id/);
    const oversized = Buffer.concat([bytes(`${header.length} ${header}`), Buffer.alloc(blockSizeMaxBytes + 1)]);
    throwsCode('PEER_LIMIT_EXCEEDED', () => decodeAll(frameOf('HEREIS', oversized)), /block of/);
  });

  it('stays failed: after the first violation every later chunk is refused', () => {
    const decoder = new FrameDecoder();
    throwsCode('PEER_BAD_FRAME', () => [...decoder.feed(bytes('pING'))]);
    throwsCode('PEER_BAD_FRAME', () => [...decoder.feed(encodeFrame({ cmd: 'PING', id: mid() }))]);
  });
});
