import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestNet, A, B, C, line, pair } from './harness.js';


describe('engine: announce, fetch, commit', () => {
  it('a file created on one peer reaches the other', () => {
    const { net, a, b } = pair();
    net.run();
    a.write('docs/hello.txt', 'hello, world!');
    net.run();
    assert.equal(b.read('docs/hello.txt'), 'hello, world!');
    assert.deepEqual(b.state.files.get('docs/hello.txt')?.version.vv, { [A]: 1 });
    assert.equal(b.state.transfers.size, 0);
    assert.ok(b.log.some((e) => e.type === 'VersionAccepted'));
    assert.ok(b.log.some((e) => e.type === 'FileCommitted'));
  });

  it('a file that existed before connecting is listed and fetched', () => {
    const net = new TestNet();
    const a = net.add(A, { create: true });
    const b = net.add(B);
    a.write('x.bin', 'some content here');
    net.connect(a, b);
    net.run();
    assert.equal(b.read('x.bin'), 'some content here');
  });

  it('store and forward: C hears of A\'s change through B', () => {
    const { net, a, b, c } = line();
    net.run();
    a.write('f.txt', 'forwarded content');
    net.run();
    assert.equal(c.read('f.txt'), 'forwarded content');
    assert.ok(!net.linked(a.id, c.id));
    assert.deepEqual(c.tree(), a.tree());
  });
});
