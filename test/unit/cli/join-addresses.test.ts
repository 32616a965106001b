import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, it } from 'node:test';
import { joinAddresses } from '../../../src/cli/join-addresses.js';

const nic = (address: string, family: 'IPv4' | 'IPv6', internal: boolean): NetworkInterfaceInfo =>
  ({ address, family, internal, netmask: '', mac: '00:00:00:00:00:00', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;

const machine = {
  lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)],
  eth0: [nic('192.168.1.20', 'IPv4', false), nic('fe80::1', 'IPv6', false), nic('2001:db8::20', 'IPv6', false)],
};

describe('join addresses printed by create', () => {
  it('turns a wildcard listen address into this machine\'s addresses, external IPv4 first, no link-local', () => {
    assert.deepEqual(joinAddresses('0.0.0.0:4000', machine), ['192.168.1.20:4000', '[2001:db8::20]:4000', '127.0.0.1:4000', '[::1]:4000']);
    assert.deepEqual(joinAddresses('[::]:7', machine)[0], '192.168.1.20:7');
  });
  it('keeps a concrete listen address as it is', () => {
    assert.deepEqual(joinAddresses('10.0.0.5:4000', machine), ['10.0.0.5:4000']);
  });
  it('falls back to loopback on a machine with no interfaces', () => {
    assert.deepEqual(joinAddresses('0.0.0.0:4000', {}), ['127.0.0.1:4000']);
  });
});
