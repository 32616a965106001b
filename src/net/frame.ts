/**
 * Framing: the seed's `COMMAND <bytes> <payload>`.
 *
 * A frame is an ASCII command name (A-Z), one space, the payload length in
 * decimal (no sign, no leading zeros), one space, then exactly that many
 * payload bytes. The next frame starts right after. The payload is UTF-8 JSON
 * (the message without its `cmd`), except for HEREIS, whose payload is
 * `<headerBytes> <header JSON><raw block bytes>`, so block bytes cross the wire
 * as they are, without base64. docs/PROTOCOL.md is the reference.
 *
 * Theory of operation of the decoder: it is a three-phase state machine
 * (command name, length, payload) fed with socket chunks. The header phases
 * look at one byte at a time (they are a few bytes long) and check every limit
 * as soon as the byte that breaks it arrives, so a hostile peer cannot make us
 * buffer more than one frame's declared length, and that length is itself
 * bounded by frameBytesMax before a single payload byte is kept. Payload bytes
 * are never looked at one by one: they are kept as subarrays of the socket's
 * chunks, and a frame that arrived in one chunk is a view into it (no copy).
 * A frame spread over several chunks is joined once. A HEREIS frame of
 * ownedFrameBytesMin or more is instead gathered into memory of its own as it
 * arrives (the same one copy; a pooled buffer, given back by whoever writes
 * the block), so its block owns that memory (src/core/buffers.ts) and can be
 * handed to a hash worker without another. The first violation is
 * sticky: the decoder refuses everything after it.
 */
import { Buffer } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { assert } from '../core/assert.js';
import { blockBuffers, markOwnedMemory, ownsMemory } from '../core/buffers.js';
import { blockSizeMaxBytes, commandNameBytesMax, frameBytesMax, hereisHeaderBytesMax } from '../core/constants.js';
import { PloppyError, isPloppyError } from '../core/errors.js';
import { isCommand, validateMessage, type Command, type WireMessage } from '../events/messages.js';

/** One undecoded frame: a known command name and its payload bytes. */
export interface Frame {
  readonly command: Command;
  readonly payload: Buffer;
}

const space = 0x20;
const digitZero = 0x30;
const digitNine = 0x39;
const letterA = 0x41;
const letterZ = 0x5a;
const lengthDigitsMax = String(frameBytesMax).length;
const headerLengthDigitsMax = String(hereisHeaderBytesMax).length;
const utf8 = new TextDecoder('utf-8', { fatal: true });
/** HEREIS frames this large get memory of their own (a block worth hashing off the event loop). */
const ownedFrameBytesMin = 64 * 1024;

const badFrame = (what: string): never => {
  throw new PloppyError('PEER_BAD_FRAME', what);
};
const overLimit = (what: string): never => {
  throw new PloppyError('PEER_LIMIT_EXCEEDED', what);
};
const describeByte = (byte: number): string => `0x${byte.toString(16).padStart(2, '0')}`;

/** Incremental decoder: socket chunks in, frames out. See the theory of operation above. */
export class FrameDecoder {
  private phase: 'command' | 'length' | 'payload' = 'command';
  private command = '';
  private length = 0;
  private lengthDigits = 0;
  private parts: Buffer[] = [];
  private partsBytes = 0;
  /** A large HEREIS frame's own memory, filled as its bytes arrive (instead of `parts`). */
  private gathered: Buffer | null = null;
  private failure: PloppyError | null = null;

  /**
   * The largest frame accepted, frameBytesMax unless lowered (the session
   * lowers it until the handshake is done). Applies from the next frame header.
   */
  constructor(public frameLimitBytes: number = frameBytesMax) {
    assert(frameLimitBytes >= 0 && frameLimitBytes <= frameBytesMax, 'a frame limit within frameBytesMax');
  }

  /** Bytes held for the frame being received (at most the frame limit). */
  get bufferedBytes(): number {
    return this.partsBytes;
  }

  /**
   * Decode what `chunk` completes. Throws a PloppyError (PEER_BAD_FRAME,
   * PEER_LIMIT_EXCEEDED, PEER_BAD_MESSAGE for an unknown command) at the first
   * violation, and again on every later call. Stopping the iteration early
   * abandons the rest of the chunk: only do that when the stream is done.
   */
  *feed(chunk: Buffer): Generator<Frame, void, undefined> {
    if (this.failure !== null) throw this.failure;
    try {
      let at = 0;
      for (;;) {
        if (this.phase === 'payload') {
          if (this.partsBytes < this.length) {
            if (at >= chunk.length) return;
            const take = Math.min(this.length - this.partsBytes, chunk.length - at);
            if (this.gathered !== null) chunk.copy(this.gathered, this.partsBytes, at, at + take);
            else this.parts.push(chunk.subarray(at, at + take));
            this.partsBytes += take;
            at += take;
            if (this.partsBytes < this.length) return;
          }
          yield this.takeFrame();
          continue;
        }
        if (at >= chunk.length) return;
        this.headerByte(chunk[at] as number);
        at += 1;
      }
    } catch (error) {
      if (isPloppyError(error)) this.failure = error;
      throw error;
    }
  }

  private headerByte(byte: number): void {
    if (this.phase === 'command') this.commandByte(byte);
    else this.lengthByte(byte);
  }

  private commandByte(byte: number): void {
    if (byte === space) {
      if (this.command === '') badFrame('empty command name');
      if (!isCommand(this.command)) {
        throw new PloppyError('PEER_BAD_MESSAGE', `unknown command ${JSON.stringify(this.command)}`);
      }
      this.phase = 'length';
      return;
    }
    if (byte < letterA || byte > letterZ) badFrame(`byte ${describeByte(byte)} in a command name`);
    if (this.command.length >= commandNameBytesMax) overLimit(`command name longer than ${commandNameBytesMax} bytes`);
    this.command += String.fromCharCode(byte);
  }

  private lengthByte(byte: number): void {
    if (byte === space) {
      if (this.lengthDigits === 0) badFrame(`${this.command}: empty length`);
      this.phase = 'payload';
      if (this.command === 'HEREIS' && this.length >= ownedFrameBytesMin) this.gathered = Buffer.from(blockBuffers.take(this.length), 0, this.length);
      return;
    }
    if (byte < digitZero || byte > digitNine) badFrame(`${this.command}: byte ${describeByte(byte)} in the length`);
    if (this.lengthDigits > 0 && this.length === 0) badFrame(`${this.command}: length with a leading zero`);
    if (this.lengthDigits >= lengthDigitsMax) overLimit(`${this.command}: length has more than ${lengthDigitsMax} digits`);
    this.length = this.length * 10 + (byte - digitZero);
    this.lengthDigits += 1;
    if (this.length > this.frameLimitBytes) {
      overLimit(`${this.command}: frame of ${this.length}+ bytes, the limit is ${this.frameLimitBytes}`);
    }
  }

  private takeFrame(): Frame {
    assert(isCommand(this.command) && this.partsBytes === this.length, 'a frame is complete');
    let payload: Buffer;
    if (this.gathered !== null) {
      payload = this.gathered;
      markOwnedMemory(payload);
    } else {
      payload = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.length);
    }
    const frame: Frame = { command: this.command, payload };
    this.gathered = null;
    this.phase = 'command';
    this.command = '';
    this.length = 0;
    this.lengthDigits = 0;
    this.parts = [];
    this.partsBytes = 0;
    return frame;
  }
}

// ---------------------------------------------------------------- payloads

function parseJson(bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return badFrame(`${what}: payload is not UTF-8`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return badFrame(`${what}: payload is not JSON`);
  }
}

/** Split a HEREIS payload into its JSON header and its block bytes (a view, not a copy). */
function parseHereis(payload: Buffer): WireMessage {
  let headerBytes = 0;
  let at = 0;
  for (;; at++) {
    if (at >= payload.length) return badFrame('HEREIS: payload ends inside the header length');
    const byte = payload[at] as number;
    if (byte === space && at > 0) break;
    if (byte < digitZero || byte > digitNine) return badFrame(`HEREIS: byte ${describeByte(byte)} in the header length`);
    if (at >= headerLengthDigitsMax) return overLimit(`HEREIS: header length has more than ${headerLengthDigitsMax} digits`);
    if (at > 0 && headerBytes === 0) return badFrame('HEREIS: header length with a leading zero');
    headerBytes = headerBytes * 10 + (byte - digitZero);
  }
  if (headerBytes > hereisHeaderBytesMax) return overLimit(`HEREIS: header of ${headerBytes} bytes, the limit is ${hereisHeaderBytesMax}`);
  const dataStart = at + 1 + headerBytes;
  if (dataStart > payload.length) return badFrame('HEREIS: header runs past the end of the frame');
  const header = parseJson(payload.subarray(at + 1, dataStart), 'HEREIS');
  const data = payload.subarray(dataStart);
  if (data.length > blockSizeMaxBytes) return overLimit(`HEREIS: block of ${data.length} bytes, the limit is ${blockSizeMaxBytes}`);
  return validateMessage('HEREIS', header, data);
}

/**
 * Turn a frame into a WireMessage, checking every bound (validateMessage).
 * Throws PEER_BAD_FRAME, PEER_BAD_MESSAGE or PEER_LIMIT_EXCEEDED.
 */
export function parseFrame(frame: Frame): WireMessage {
  if (frame.command === 'HEREIS') return parseHereis(frame.payload);
  return validateMessage(frame.command, parseJson(frame.payload, frame.command));
}

// ---------------------------------------------------------------- encoding

/**
 * Encode a message as the buffers to write, in order. For HEREIS the second
 * buffer is a view of the block bytes themselves: write both under one
 * cork/uncork (one writev) and the block is never copied in user space.
 */
export function encodeMessage(msg: WireMessage): Buffer[] {
  if (msg.cmd === 'HEREIS') {
    const header = JSON.stringify({ id: msg.id, hash: msg.hash });
    assert(/^[\x20-\x7e]*$/.test(header), 'HEREIS header is ASCII (a UUID and a hex digest)');
    const headerPrefix = `${header.length} `;
    const total = headerPrefix.length + header.length + msg.data.byteLength;
    assert(header.length <= hereisHeaderBytesMax && msg.data.byteLength <= blockSizeMaxBytes, 'HEREIS within limits');
    assert(total <= frameBytesMax, 'HEREIS frame within frameBytesMax');
    const head = `HEREIS ${total} ${headerPrefix}${header}`;
    if (ownsMemory(msg.data) && msg.data.byteOffset >= head.length) {
      // The bytes before the block are scratch: the header goes there and the frame is one buffer
      // (TLS then encrypts straight from it instead of first joining header and block).
      const frame = Buffer.from(msg.data.buffer, msg.data.byteOffset - head.length, head.length + msg.data.byteLength);
      frame.write(head, 0, 'latin1');
      return [frame];
    }
    const data = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    return [Buffer.from(head, 'latin1'), data];
  }
  const { cmd, ...fields } = msg;
  const json = JSON.stringify(fields);
  const length = Buffer.byteLength(json);
  assert(length <= frameBytesMax, `${cmd} frame of ${length} bytes is over frameBytesMax: split it`);
  return [Buffer.from(`${cmd} ${length} ${json}`)];
}

/** One buffer holding the whole frame (tests and small messages; the session writes encodeMessage's parts). */
export const encodeFrame = (msg: WireMessage): Buffer => {
  const parts = encodeMessage(msg);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
};
