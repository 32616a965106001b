/**
 * One-line descriptions of engine inputs and outputs for the trace. They feed
 * the trace hash, so they must be deterministic (no object identity, no
 * wall-clock time) and cheap (one per handle() call).
 */
import type { PeerId } from '../core/ids.js';
import type { FsOp, Input, LocalChange, Output } from '../engine/types.js';
import type { WireMessage } from '../events/messages.js';

const short = (s: string): string => s.slice(0, 8);

function describeMessage(m: WireMessage): string {
  switch (m.cmd) {
    case 'IHAVE': return `IHAVE ${short(m.id)} [${m.files.map((f) => `${f.path}${f.deleted ? '(x)' : ''}`).join(',')}] ${m.since ?? ''}..${m.upTo}`;
    case 'IMOVED': return `IMOVED ${short(m.id)} ${m.oldpath}->${m.newpath} ${m.since ?? ''}..${m.upTo}`;
    case 'IDELETED': return `IDELETED ${short(m.id)} ${m.oldpath} ${m.since ?? ''}..${m.upTo}`;
    case 'IWANT': return `IWANT ${short(m.id)} [${m.hashes.map(short).join(',')}]`;
    case 'HEREIS': return `HEREIS ${short(m.id)} ${short(m.hash)} ${m.data.byteLength}B`;
    case 'DONTHAVE': return `DONTHAVE ${short(m.id)} [${m.hashes.map(short).join(',')}]`;
    case 'LIST': return `LIST ${short(m.id)} since ${m.since}`;
    default: return `${m.cmd} ${short(m.id)}`;
  }
}

function describeChange(c: LocalChange): string {
  switch (c.kind) {
    case 'changed': return `changed ${c.observation.path} ${c.observation.type} ${c.observation.mode} ${c.observation.size}B`;
    case 'deleted': return `deleted ${c.path}`;
    case 'moved': return `moved ${c.from}->${c.to}`;
    case 'scanFinished': return `scanFinished ${c.files}`;
  }
}

export function describeInput(input: Input): string {
  switch (input.kind) {
    case 'received': return `recv ${describeMessage(input.msg)} from ${short(input.from)}`;
    case 'local': return `local ${describeChange(input.change)}`;
    case 'timer': return `timer ${input.timer}`;
    case 'effectDone': return `done ${input.effect} ${input.result.ok ? 'ok' : `${input.result.code} ${input.result.message}`}`;
    case 'connected': return `connected ${short(input.peer)} ${input.direction}`;
    case 'disconnected': return `disconnected ${short(input.peer)} ${input.reason}`;
    case 'command': return `command ${input.command.kind}`;
  }
}

function describeOp(op: FsOp): string {
  switch (op.op) {
    case 'move': return `move ${op.from}->${op.to}`;
    case 'writeBlock':
    case 'copyBlock':
    case 'keepBlock': return `${op.op} ${op.path}[${op.indices.join(',')}]`;
    case 'readBlock': return `readBlock ${op.path}@${op.offset} for ${short(op.forPeer)}`;
    case 'rescan': return `rescan ${op.path === '' ? '*' : op.path}`;
    default: return `${op.op} ${op.path}`;
  }
}

function describeOutput(o: Output, byId: ReadonlyMap<PeerId, number>): string {
  switch (o.kind) {
    case 'append': {
      let types = '';
      for (const e of o.events) types += types === '' ? e.type : `,${e.type}`;
      return `append[${types}]`;
    }
    case 'send': return `send ${peerName(o.to, byId)} ${describeMessage(o.msg)}`;
    case 'fs': return `fs ${o.effect} ${describeOp(o.op)}`;
    case 'setTimer': return `timer ${o.timer}@${o.atMs}`;
    case 'connect': return `connect ${o.address}`;
    case 'disconnect': return `disconnect ${peerName(o.peer, byId)} ${o.reason}`;
  }
}

function peerName(p: PeerId, byId: ReadonlyMap<PeerId, number>): string {
  const i = byId.get(p);
  return i === undefined ? short(p) : `p${i}`;
}

/** The outputs joined by '; ' (a loop: this runs once per handle() call). */
export function describeOutputs(outputs: readonly Output[], byId: ReadonlyMap<PeerId, number>): string {
  let out = '';
  for (let i = 0; i < outputs.length; i++) out += i === 0 ? describeOutput(outputs[i] as Output, byId) : `; ${describeOutput(outputs[i] as Output, byId)}`;
  return out;
}
