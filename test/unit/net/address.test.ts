import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPloppyError } from '../../../src/core/errors.js';
import { dialableAddress, formatAddress, parseAddress } from '../../../src/net/address.js';

describe('addresses', () => {
  it('parses and formats HOST:PORT, with IPv6 in brackets', () => {
    assert.deepEqual(parseAddress('127.0.0.1:4000'), { host: '127.0.0.1', port: 4000 });
    assert.deepEqual(parseAddress('example.org:0'), { host: 'example.org', port: 0 });
    assert.deepEqual(parseAddress('[::1]:65535'), { host: '::1', port: 65535 });
    assert.equal(formatAddress({ host: '::1', port: 9 }), '[::1]:9');
    assert.equal(formatAddress(parseAddress('10.1.2.3:80')), '10.1.2.3:80');
  });

  it('refuses what is not an address, as a usage error', () => {
    for (const bad of ['4000', 'host:', 'host:port', 'a:65536', '::1:4000', 'a b:1', '']) {
      assert.throws(() => parseAddress(bad), (e: unknown) => isPloppyError(e, 'USAGE'), bad);
    }
  });

  it('fills a wildcard announcement with the IP the connection came from', () => {
    assert.equal(dialableAddress('0.0.0.0:4000', '192.168.1.7'), '192.168.1.7:4000');
    assert.equal(dialableAddress('[::]:4000', '::ffff:10.0.0.5'), '10.0.0.5:4000');
    assert.equal(dialableAddress('[::]:4000', 'fe80::1'), '[fe80::1]:4000');
    assert.equal(dialableAddress('10.0.0.9:4000', '192.168.1.7'), '10.0.0.9:4000');
    assert.equal(dialableAddress('0.0.0.0:4000', undefined), null);
    assert.equal(dialableAddress('not an address', '1.2.3.4'), null);
  });
});
