import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { peerTimeoutMs, reconnectDelayMinMs } from '../../../src/core/constants.js';
import type { WireMessage } from '../../../src/events/messages.js';
import { blocksOf, bytes, p, TestNet, A, B, C, line, pair } from './harness.js';


const cmds = (sent: { msg: WireMessage }[]) => sent.map((s) => s.msg.cmd);

describe('engine: discovery and liveness', () => {
  it('peers learn about peers they cannot see, and forget them when the link goes', () => {
    const { net, a, b, c } = line();
    net.run();
    assert.equal(c.state.peers.get(A)?.reachability, 'indirect');
    assert.equal(c.state.peers.get(A)?.via, B);
    assert.equal(a.state.peers.get(C)?.reachability, 'indirect');
    assert.ok(cmds(b.sent).includes('ICANSEE'));
    net.cut(a.id, b.id);
    net.run();
    assert.equal(c.state.peers.get(A)?.reachability, 'gone');
    assert.ok(c.log.some((e) => e.type === 'PeerLost' && e.data.peer === A));
  });

  it('a cascade ends: every ICANSEE/IKNOWABOUT id crosses each link at most once per direction', () => {
    const net = new TestNet();
    const nodes = [A, B, C, 'dddddddddddddddd', 'eeeeeeeeeeeeeeee'].map((id, i) => net.add(id, { create: i === 0 }));
    for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) net.connect(nodes[i]!, nodes[j]!);
    net.run();
    for (const n of nodes) {
      const seen = new Set<string>();
      for (const s of n.sent) {
        if (s.msg.cmd !== 'IKNOWABOUT' && s.msg.cmd !== 'ICANTSEE') continue;
        const key = `${s.to}|${s.msg.id}`;
        assert.ok(!seen.has(key), `${n.id} sent ${s.msg.cmd} ${s.msg.id} twice to ${s.to}`);
        seen.add(key);
      }
    }
  });

  it('pings every interval, answers PONG, and drops a neighbour that went silent', () => {
    const { net, a, b } = pair();
    net.run();
    net.advance(6000);
    assert.ok(cmds(a.sent).includes('PING'));
    assert.ok(cmds(b.sent).includes('PONG'));
    // B stops answering: nothing A sends reaches it any more
    const before = a.engine.state.peers.get(B)?.reachability;
    assert.equal(before, 'direct');
    net.nodes.delete(b.id);
    net.advance(peerTimeoutMs + 6000);
    assert.equal(a.state.peers.get(B)?.reachability, 'gone');
    assert.ok(a.log.some((e) => e.type === 'PeerDisconnected' && e.data.peer === B));
  });

  it('redials the join address with growing delays until it connects', () => {
    const net = new TestNet();
    const a = net.add(A, { create: true });
    const b = net.add(B, { via: a.address });
    assert.deepEqual(b.connects, [a.address]);
    net.advance(reconnectDelayMinMs * 40);
    const attempts = b.connects.length;
    assert.ok(attempts >= 4 && attempts <= 8, `${attempts} attempts`);
    net.connect(a, b);
    net.run();
    net.advance(reconnectDelayMinMs * 40);
    assert.equal(b.connects.length, attempts, 'no redial while connected');
    net.cut(a.id, b.id);
    net.advance(reconnectDelayMinMs * 2);
    assert.ok(b.connects.length > attempts, 'a lost link is redialled');
  });
});

describe('engine: hostile and odd input', () => {
  it('ignores inconsistent versions, unknown hashes and unsolicited blocks without crashing', () => {
    const { net, a, b } = pair();
    net.run();
    const data = bytes('evil');
    const bad = {
      path: p('x.txt'), type: 'file' as const, mode: 6, size: 1_000_000, mtimeMs: 0, blockSizeBytes: 4, blocks: blocksOf(data),
      deleted: false, vv: { [B]: 1 }, hlc: { wallMs: 1, counter: 0 }, author: B as never,
    };
    const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}` as never;
    const headBefore = a.state.transfers.size;
    a.handle({ kind: 'received', from: b.id, msg: { cmd: 'IHAVE', id: id(1), files: [bad, { ...bad, path: p('y.txt'), vv: {} }], upTo: 5 } });
    a.handle({ kind: 'received', from: b.id, msg: { cmd: 'IWANT', id: id(2), hashes: blocksOf(bytes('nope')) } });
    a.handle({ kind: 'received', from: b.id, msg: { cmd: 'HEREIS', id: id(3), hash: blocksOf(data)[0]!, data } });
    a.handle({ kind: 'received', from: b.id, msg: { cmd: 'LIST', id: id(4), since: Number.MAX_SAFE_INTEGER } });
    a.handle({ kind: 'received', from: b.id, msg: { cmd: 'ICANTSEE', id: id(5), via: b.id, uuid: A as never } });
    net.run();
    assert.equal(a.state.transfers.size, headBefore);
    assert.ok(a.sent.some((s) => s.msg.cmd === 'DONTHAVE'));
    assert.equal(a.state.files.size, 0);
  });
});

describe('engine: restart', () => {
  it('a transfer cut short by a crash resumes from the persisted projections', () => {
    const { net, a, b } = pair();
    net.run();
    a.write('resume.txt', 'content that spans several blocks');
    // deliver the announcement, then crash B before any block arrives
    for (let i = 0; i < 50 && !b.state.transfers.has('resume.txt'); i++) net.step();
    assert.ok(b.state.transfers.has('resume.txt'));
    b.restart();
    net.dropInFlight();
    assert.equal(b.read('resume.txt'), undefined);
    net.connect(a, b);
    net.run();
    assert.equal(b.read('resume.txt'), 'content that spans several blocks');
    assert.equal(b.state.transfers.size, 0);
  });
});
