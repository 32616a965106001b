import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WireMessage } from '../../../src/events/messages.js';
import { blocksOf, bytes, TestNet, A, B, C, line, pair } from './harness.js';


/** The index sequence of a node's latest files change: what a caught-up cursor must reach. */
const lastChange = (n: { state: { files: Map<string, { changedSeq: number }> } }): number =>
  Math.max(0, ...[...n.state.files.values()].map((e) => e.changedSeq));

const sentOf = <C extends WireMessage['cmd']>(sent: { msg: WireMessage }[], cmd: C) =>
  sent.map((s) => s.msg).filter((m): m is Extract<WireMessage, { cmd: C }> => m.cmd === cmd);

describe('engine: deletes, renames, reconnects', () => {
  it('a delete propagates and an old version does not bring the file back', () => {
    const { net, a, b, c } = line();
    a.write('d.txt', 'doomed');
    net.run();
    assert.equal(c.read('d.txt'), 'doomed');
    const old = c.state.files.get('d.txt')?.version;
    net.cut(b.id, c.id);
    a.remove('d.txt');
    net.run();
    assert.equal(b.read('d.txt'), undefined);
    assert.equal(b.state.files.get('d.txt')?.version.deleted, true);
    net.connect(b, c);
    net.run();
    for (const n of [a, b, c]) assert.equal(n.read('d.txt'), undefined);
    // an out-of-date announcement of the old version is superseded, not applied
    assert.ok(old !== undefined);
    a.handle({ kind: 'received', from: b.id, msg: { cmd: 'IHAVE', id: '00000000-0000-4000-8000-00000000beef' as never, files: [old], upTo: 1 } });
    net.run();
    assert.equal(a.read('d.txt'), undefined);
    assert.ok(a.log.some((e) => e.type === 'VersionSuperseded' && e.data.reason === 'older'));
  });

  it('a duplicate announcement is recorded as one and decided on no further, though the state moved on', () => {
    const { net, a, b } = pair();
    a.write('d.txt', 'announced once');
    net.run();
    const ihave = sentOf(a.sent, 'IHAVE').find((m) => m.files.some((f) => f.path === 'd.txt'));
    assert.ok(ihave !== undefined);
    b.remove('d.txt'); // b's delete follows the announced version: deciding on it again would supersede it anew
    net.run();
    const before = b.log.length;
    b.handle({ kind: 'received', from: a.id, msg: ihave });
    net.run();
    const after = b.log.slice(before);
    assert.deepEqual(after.map((e) => e.type), ['MessageReceived']);
    const received = after[0];
    assert.ok(received?.type === 'MessageReceived' && received.data.duplicate === true);
    assert.equal(b.read('d.txt'), undefined);
  });

  it('a rename arrives as IMOVED and is done as a local move, not a download', () => {
    const { net, a, b } = pair();
    a.write('old/name.txt', 'moving content');
    net.run();
    const wantsBefore = sentOf(b.sent, 'IWANT').length;
    a.rename('old/name.txt', 'new/name.txt');
    net.run();
    assert.ok(sentOf(a.sent, 'IMOVED').length >= 1);
    assert.equal(b.read('new/name.txt'), 'moving content');
    assert.equal(b.read('old/name.txt'), undefined);
    assert.ok(b.ops.some((o) => o.op === 'move' && o.from === 'old/name.txt' && o.to === 'new/name.txt'));
    assert.equal(sentOf(b.sent, 'IWANT').length, wantsBefore);
    assert.equal(b.state.files.get('old/name.txt')?.version.deleted, true);
    assert.deepEqual(a.tree(), b.tree());
  });

  it('after a reconnect only what changed since the cursor is exchanged', () => {
    const { net, a, b } = pair();
    for (let i = 0; i < 5; i++) a.write(`f${i}.txt`, `content ${i}`);
    net.run();
    const cursor = b.state.peers.get(A)?.cursor ?? 0;
    assert.ok(cursor >= lastChange(a));
    net.cut(a.id, b.id);
    a.write('late.txt', 'written while apart');
    const sentBefore = a.sent.length;
    net.connect(a, b);
    net.run();
    const lists = sentOf(b.sent, 'LIST');
    assert.equal(lists.at(-1)?.since, cursor);
    const announced = sentOf(a.sent.slice(sentBefore), 'IHAVE').flatMap((m) => m.files.map((f) => f.path));
    assert.deepEqual(announced, ['late.txt']);
    assert.equal(b.read('late.txt'), 'written while apart');
    assert.ok((b.state.peers.get(A)?.cursor ?? 0) >= lastChange(a));
  });

  it('a lost announcement leaves a gap that the next LIST closes', () => {
    const { net, a, b } = pair();
    net.run();
    a.write('one.txt', '1111');
    // drop everything in flight (the IHAVE for one.txt) without closing the connection
    net.dropInFlight();
    a.write('two.txt', '2222');
    net.run();
    assert.equal(b.read('two.txt'), '2222');
    assert.equal(b.read('one.txt'), undefined);
    assert.ok((b.state.peers.get(A)?.cursor ?? 0) < lastChange(a));
    net.advance(20_000);
    assert.equal(b.read('one.txt'), '1111');
    assert.ok((b.state.peers.get(A)?.cursor ?? 0) >= lastChange(a));
  });
});

describe('engine: blocks', () => {
  it('a block present in a local file is copied, not fetched', () => {
    const { net, a, b } = pair();
    a.write('first.txt', 'AAAABBBBCCCC');
    net.run();
    const wantsBefore = sentOf(b.sent, 'IWANT').flatMap((m) => m.hashes).length;
    a.write('second.txt', 'AAAABBBBDDDD');
    net.run();
    assert.equal(b.read('second.txt'), 'AAAABBBBDDDD');
    const wanted = sentOf(b.sent, 'IWANT').flatMap((m) => m.hashes).slice(wantsBefore);
    assert.deepEqual(wanted, blocksOf(bytes('DDDD')));
    assert.equal(b.ops.filter((o) => o.op === 'copyBlock' && o.path === 'second.txt').length, 2);
  });

  it('requests spread over every source, and a bad block is refetched from another peer', () => {
    const net = new TestNet();
    const a = net.add(A, { create: true });
    const b = net.add(B);
    const c = net.add(C);
    net.connect(a, b);
    a.write('big.bin', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ');
    net.run();
    a.corruptBlocks = true;
    net.connect(c, a);
    net.connect(c, b);
    net.run();
    assert.equal(c.read('big.bin'), a.read('big.bin'));
    const rejected = c.log.filter((e) => e.type === 'BlockRejected');
    assert.ok(rejected.length > 0);
    assert.ok(rejected.every((e) => e.type === 'BlockRejected' && e.data.from === A));
    const askedOf = new Set(c.sent.filter((s) => s.msg.cmd === 'IWANT').map((s) => s.to));
    assert.deepEqual([...askedOf].sort(), [A, B]);
  });

  it('a block nobody has is retried and the transfer fails, then starts over', () => {
    const { net, a, b } = pair();
    a.write('gone.txt', 'vanishing!');
    // the file changes on A's disk behind the engine's back before B asks
    a.disk.set('gone.txt', { type: 'file', data: bytes('different!'), mode: 6 });
    net.run();
    net.advance(200_000);
    assert.equal(b.read('gone.txt'), undefined);
    const failures = b.log.filter((e) => e.type === 'TransferFailed' && e.data.code === 'BLOCK_UNAVAILABLE');
    assert.ok(failures.length >= 2, 'fails, starts over on a later tick, fails again');
    assert.ok(b.state.transfers.has('gone.txt'));
    // once the content is back, the next attempt succeeds
    a.write('gone.txt', 'vanishing!');
    net.run();
    net.advance(60_000); // failed attempts back off, up to 8 ticks apart
    assert.equal(b.read('gone.txt'), 'vanishing!');
  });
});
