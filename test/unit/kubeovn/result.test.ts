import { describe, it, expect } from 'vitest';
import { resultFromDaemon, withMask, type HostSide, type PodSide } from '../../../src/kubeovn/result.js';
import { CniResponse } from '../../../src/kubeovn/protocol.js';
import { forVersion } from '../../../src/cni/result.js';
import { wire } from '../../support/thrown.js';

const POD: PodSide = { ifname: 'net1', netns: '/var/run/netns/cni-1', vfPci: '0000:42:00.2' };
const HOST: HostSide = { representor: '5b45c61b307e_h' };
const CONF_DNS = { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'] };

const v116 = (fields: Record<string, unknown> = {}): CniResponse => CniResponse.parse({
  ips: [{ protocol: 'IPv4', ip: '10.16.0.5', cidr: '10.16.0.0/16', gateway: '10.16.0.1' }],
  mac_address: '00:00:00:aa:bb:cc',
  routes: [{ dst: '10.16.0.0/16' }, { gw: '10.16.0.1' }],
  mtu: 1400,
  nicname: 'net1',
  dns: {},
  error: '',
  ...fields,
});
const legacyDual = (fields: Record<string, unknown> = {}): CniResponse => CniResponse.parse({
  protocol: 'Dual',
  address: '10.16.0.5,fd00:10:16::5',
  mac_address: '00:00:00:AA:BB:CC',
  cidr: '10.16.0.0/16,fd00:10:16::/64',
  gateway: '10.16.0.1,fd00:10:16::1',
  routes: null,
  mtu: 1400,
  nicname: 'net1',
  dns: {},
  error: '',
  ...fields,
});

describe('resultFromDaemon', () => {
  it('≥ v1.16 answer: the VF in the pod first, with pciID; the representor second, without sandbox', () => {
    expect(wire(resultFromDaemon(v116(), POD, HOST))).toEqual({
      interfaces: [
        { name: 'net1', mac: '00:00:00:aa:bb:cc', mtu: 1400, sandbox: '/var/run/netns/cni-1', pciID: '0000:42:00.2' },
        { name: '5b45c61b307e_h' },
      ],
      ips: [{ interface: 0, address: '10.16.0.5/16', gateway: '10.16.0.1' }],
      routes: [{ dst: '10.16.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.16.0.1' }],
      dns: {},
    });
  });

  it('≤ v1.15 dual-stack answer: lower-cased MAC, one IP per family with its mask, one default route per family', () => {
    expect(wire(resultFromDaemon(legacyDual(), POD, { representor: 'pf0vf2', mac: '02:11:22:33:44:55' }))).toEqual({
      interfaces: [
        { name: 'net1', mac: '00:00:00:aa:bb:cc', mtu: 1400, sandbox: '/var/run/netns/cni-1', pciID: '0000:42:00.2' },
        { name: 'pf0vf2', mac: '02:11:22:33:44:55' },
      ],
      ips: [
        { interface: 0, address: '10.16.0.5/16', gateway: '10.16.0.1' },
        { interface: 0, address: 'fd00:10:16::5/64', gateway: 'fd00:10:16::1' },
      ],
      routes: [
        { dst: '0.0.0.0/0', gw: '10.16.0.1' },
        { dst: '::/0', gw: 'fd00:10:16::1' },
      ],
      dns: {},
    });
  });

  it.each([
    ['an IPv4 gw alone is the IPv4 default route', [{ gw: '10.16.0.1' }], [{ dst: '0.0.0.0/0', gw: '10.16.0.1' }]],
    ['an IPv6 gw alone is the IPv6 default route', [{ gw: 'fd00:10:16::1' }], [{ dst: '::/0', gw: 'fd00:10:16::1' }]],
    ['a dst alone stays an on-link route', [{ dst: '10.16.0.0/16' }], [{ dst: '10.16.0.0/16' }]],
    ['a route with neither dst nor gw is dropped', [{}, { dst: '10.0.0.0/8', gw: '10.16.0.1' }], [{ dst: '10.0.0.0/8', gw: '10.16.0.1' }]],
    ['given routes are used as they are, without adding a default route', [{ dst: '10.0.0.0/8', gw: '10.16.0.1' }], [{ dst: '10.0.0.0/8', gw: '10.16.0.1' }]],
  ])('routes from the daemon: %s', (_name, routes, want) => {
    expect(wire(resultFromDaemon(v116({ routes }), POD, HOST).routes)).toEqual(want);
  });

  it.each([
    ['null routes', null],
    ['an empty routes list', []],
    ['no routes key (v1.12)', undefined],
  ])('with %s, one default route per family that has a gateway', (_name, routes) => {
    const resp = v116({
      routes,
      ips: [
        { protocol: 'IPv4', ip: '10.16.0.5', cidr: '10.16.0.0/16', gateway: '10.16.0.1' },
        { protocol: 'IPv6', ip: 'fd00:10:16::5', cidr: 'fd00:10:16::/64' },
      ],
    });
    expect(resultFromDaemon(resp, POD, HOST).routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.16.0.1' }]);
  });

  it('IPv6 only without a gateway: the address with its /64 and no route', () => {
    const resp = legacyDual({ protocol: 'IPv6', address: 'fd00:10:16::5', cidr: 'fd00:10:16::/64', gateway: '' });
    const result = resultFromDaemon(resp, POD, HOST);
    expect(wire(result.ips)).toEqual([{ interface: 0, address: 'fd00:10:16::5/64' }]);
    expect(result.routes).toEqual([]);
  });

  it('IPAM-only answer (no nicname, MAC or MTU): the pod interface is CNI_IFNAME, with no mac or mtu', () => {
    const resp = v116({ mac_address: '', nicname: '', mtu: 0 });
    expect(wire(resultFromDaemon(resp, POD, HOST).interfaces?.[0])).toEqual({
      name: 'net1', sandbox: '/var/run/netns/cni-1', pciID: '0000:42:00.2',
    });
  });

  it.each([
    ['the daemon\'s dns when it sent one', { nameservers: ['10.16.0.10'] }, { nameservers: ['10.16.0.10'] }],
    ['{} when the daemon sent {}, as kube-ovn\'s result has it', {}, {}],
    ['{} when the daemon sent null', null, {}],
  ])('dns is %s', (_name, dns, want) => {
    expect(resultFromDaemon(v116({ dns }), POD, HOST).dns).toEqual(want);
  });

  it('a 0.3.1 caller sees ips[].version and no pciID or mtu', () => {
    const out = wire(forVersion(resultFromDaemon(legacyDual(), POD, HOST), '0.3.1'));
    expect(out).toEqual({
      cniVersion: '0.3.1',
      interfaces: [
        { name: 'net1', mac: '00:00:00:aa:bb:cc', sandbox: '/var/run/netns/cni-1' },
        { name: '5b45c61b307e_h' },
      ],
      ips: [
        { version: '4', interface: 0, address: '10.16.0.5/16', gateway: '10.16.0.1' },
        { version: '6', interface: 0, address: 'fd00:10:16::5/64', gateway: 'fd00:10:16::1' },
      ],
      routes: [
        { dst: '0.0.0.0/0', gw: '10.16.0.1' },
        { dst: '::/0', gw: 'fd00:10:16::1' },
      ],
    });
  });
});

describe('withMask', () => {
  it.each([
    ['10.16.0.5', '10.16.0.0/16', '10.16.0.5/16'],
    ['fd00:10:16::5', 'fd00:10:16::/64', 'fd00:10:16::5/64'],
    ['10.16.0.5/24', '10.16.0.0/16', '10.16.0.5/24'],
    ['10.16.0.5', '', '10.16.0.5/32'],
    ['fd00:10:16::5', '', 'fd00:10:16::5/128'],
  ])('%s in %j → %s', (ip, cidr, want) => {
    expect(withMask(ip, cidr)).toBe(want);
  });
});
