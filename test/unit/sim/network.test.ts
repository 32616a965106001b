import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRng } from '../../../src/core/rng.js';
import type { BlockHash, MessageId } from '../../../src/core/ids.js';
import type { WireMessage } from '../../../src/events/messages.js';
import { Network, corruptRule, dropRule, duplicateRule, reorderRule, type NetRule } from '../../../src/sim/network.js';

const ping = (i: number): WireMessage => ({ cmd: 'PING', id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` as MessageId });
const net = (rules: NetRule[] = []): Network => {
  const n = new Network([[0, 1], [1, 2]], seededRng(1), { latencyMsMin: 5, latencyMsMax: 5 });
  n.rules = rules;
  n.bringUp(0, 1);
  return n;
};

test('a packet needs a live connection of the topology', () => {
  const n = net();
  assert.equal(n.send(0, 2, ping(1), 0).kind, 'noLink', 'not in the topology');
  assert.equal(n.send(1, 2, ping(1), 0).kind, 'noLink', 'in the topology but not connected');
  const r = n.send(0, 1, ping(1), 0);
  assert.equal(r.kind, 'sent');
  assert.equal(r.kind === 'sent' && r.deliveries[0]?.atMs, 5);
});

test('delivery is in order within a connection, unless the reorder rule is on', () => {
  const times = (rules: NetRule[]): number[] => {
    const n = net(rules);
    const out: number[] = [];
    for (let i = 0; i < 50; i++) {
      const r = n.send(0, 1, ping(i), i);
      if (r.kind === 'sent') out.push(r.deliveries[0]?.atMs as number);
    }
    return out;
  };
  const inOrder = times([{ name: 'jitter', onPacket: (_p, rng) => ({ kind: 'deliver', delayMs: rng.int(100) }) }]);
  assert.deepEqual(inOrder, [...inOrder].sort((a, b) => a - b));
  const reordered = times([reorderRule(100)]);
  assert.notDeepEqual(reordered, [...reordered].sort((a, b) => a - b));
});

test('a packet from a dead connection is not delivered on the next one', () => {
  const n = net();
  const r = n.send(0, 1, ping(1), 0);
  assert.equal(r.kind, 'sent');
  const p = r.kind === 'sent' ? r.deliveries[0]?.packet : undefined;
  assert.ok(p !== undefined && n.current(p));
  n.tearDown(0, 1);
  n.bringUp(0, 1);
  assert.equal(n.current(p), false);
});

test('a dropped packet resets the connection (TCP never loses silently)', () => {
  assert.equal(net([dropRule(1)]).send(0, 1, ping(1), 0).kind, 'reset');
});

test('duplicates are copies with the same id; corruption flips a HEREIS byte but keeps the hash claim', () => {
  const d = net([duplicateRule(1, 10)]).send(0, 1, ping(1), 0);
  assert.equal(d.kind === 'sent' && d.deliveries.length, 2);
  assert.ok(d.kind === 'sent' && d.deliveries[1]?.packet.duplicate && d.deliveries[1].packet.msg.id === ping(1).id);
  const data = new Uint8Array([1, 2, 3, 4]);
  const heard: Uint8Array[] = [];
  const n = new Network([[0, 1]], seededRng(2), { latencyMsMin: 1, latencyMsMax: 1, onCorrupt: (_m, c) => heard.push(c) });
  n.rules = [corruptRule(1)];
  n.bringUp(0, 1);
  const hereis: WireMessage = { cmd: 'HEREIS', id: ping(2).id, hash: 'ab'.repeat(32) as BlockHash, data };
  const r = n.send(0, 1, hereis, 0);
  const got = r.kind === 'sent' ? r.deliveries[0]?.packet.msg : undefined;
  assert.ok(got?.cmd === 'HEREIS');
  assert.notDeepEqual(got.data, data);
  assert.equal(got.hash, hereis.hash);
  assert.deepEqual(data, new Uint8Array([1, 2, 3, 4]), 'the sender keeps its bytes');
  assert.equal(heard.length, 1);
});

test('a partition holds packets and releases them in order when it heals; a clog delays until a time', () => {
  const n = net();
  n.partition.block(0, 1);
  assert.equal(n.send(0, 1, ping(1), 0).kind, 'held');
  assert.equal(n.send(0, 1, ping(2), 1).kind, 'held');
  assert.equal(n.send(1, 0, ping(3), 1).kind, 'sent', 'one-way');
  assert.equal(n.canConnect(1, 2), true);
  n.partition.block(1, 2);
  assert.equal(n.canConnect(1, 2), false, 'a handshake needs both directions');
  n.partition.healAll();
  const released = n.release(100);
  assert.deepEqual(released.map((d) => d.packet.msg.id), [ping(1).id, ping(2).id]);
  assert.ok(released.every((d) => d.atMs >= 105));
  n.clogs.clog(0, 1, 500);
  const r = n.send(0, 1, ping(4), 200);
  assert.ok(r.kind === 'sent' && (r.deliveries[0]?.atMs as number) >= 500);
});
