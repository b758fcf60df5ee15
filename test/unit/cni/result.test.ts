import { describe, it, expect } from 'vitest';
import { familyOf, forVersion, mergeResults, parsePrevResult, type Result } from '../../../src/cni/result.js';
import { wire } from '../../support/thrown.js';

// What add.ts builds: the pod's VF with its pciID, then its representor; dual-stack.
function ours(): Result {
  return {
    cniVersion: '1.1.0',
    interfaces: [
      { name: 'eth0', mac: '00:00:00:aa:bb:cc', mtu: 1400, sandbox: '/var/run/netns/cni-1', pciID: '0000:42:00.2' },
      { name: 'pf0vf2', mac: '02:11:22:33:44:55', socketPath: '/run/vhost/sock0' },
    ],
    ips: [
      { interface: 0, address: '10.16.0.5/16', gateway: '10.16.0.1' },
      { interface: 0, address: 'fd00:10:16::5/64', gateway: 'fd00:10:16::1' },
    ],
    routes: [
      { dst: '0.0.0.0/0', gw: '10.16.0.1', mtu: 1400, advmss: 1360, priority: 100, table: 254, scope: 0 },
      { dst: '::/0', gw: 'fd00:10:16::1' },
    ],
    dns: { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'] },
  };
}

describe('forVersion', () => {
  it.each(['0.3.0', '0.3.1', '0.4.0'])('%s: each ips[] entry carries version "4"/"6" by its family', (v) => {
    expect(wire(forVersion(ours(), v))).toMatchObject({
      cniVersion: v,
      ips: [
        { version: '4', interface: 0, address: '10.16.0.5/16', gateway: '10.16.0.1' },
        { version: '6', interface: 0, address: 'fd00:10:16::5/64', gateway: 'fd00:10:16::1' },
      ],
    });
  });

  it.each(['0.3.0', '0.3.1', '0.4.0', '1.0.0'])('%s: interfaces lose mtu, pciID and socketPath; routes lose the 1.1.0 keys', (v) => {
    const out = wire(forVersion(ours(), v)) as Result;
    expect(out.interfaces).toEqual([
      { name: 'eth0', mac: '00:00:00:aa:bb:cc', sandbox: '/var/run/netns/cni-1' },
      { name: 'pf0vf2', mac: '02:11:22:33:44:55' },
    ]);
    expect(out.routes).toEqual([
      { dst: '0.0.0.0/0', gw: '10.16.0.1' },
      { dst: '::/0', gw: 'fd00:10:16::1' },
    ]);
  });

  it('1.0.0: ips[] carry no version', () => {
    const out = wire(forVersion(ours(), '1.0.0')) as Result;
    expect(out.ips).toEqual([
      { interface: 0, address: '10.16.0.5/16', gateway: '10.16.0.1' },
      { interface: 0, address: 'fd00:10:16::5/64', gateway: 'fd00:10:16::1' },
    ]);
  });

  it('1.1.0: keeps interfaces[].mtu, pciID, socketPath and the route keys, and no ips[].version', () => {
    const { cniVersion: _v, ...rest } = ours();
    expect(wire(forVersion(ours(), '1.1.0'))).toEqual({ cniVersion: '1.1.0', ...rest });
  });

  it('a stale ips[].version from an older prevResult is dropped at 1.0.0 and recomputed from the address at 0.3.1', () => {
    const r: Result = { ips: [{ interface: 0, address: '10.16.0.5/16', version: '6' }] };
    expect(wire(forVersion(r, '1.0.0'))).toEqual({ cniVersion: '1.0.0', ips: [{ interface: 0, address: '10.16.0.5/16' }] });
    expect(wire(forVersion(r, '0.3.1'))).toEqual({ cniVersion: '0.3.1', ips: [{ version: '4', interface: 0, address: '10.16.0.5/16' }] });
  });

  it.each([
    [{}, 'no field'],
    [{ nameservers: [] }, 'empty nameservers'],
    [{ nameservers: [], domain: '', search: [], options: [] }, 'every field empty'],
  ])('omits dns when it is empty (%j: %s)', (dns, _why) => {
    expect(wire(forVersion({ ...ours(), dns }, '1.0.0'))).not.toHaveProperty('dns');
  });

  it.each([
    [{ nameservers: ['10.96.0.10'] }],
    [{ domain: 'cluster.local' }],
    [{ search: ['default.svc.cluster.local'] }],
    [{ options: ['ndots:5'] }],
  ])('keeps dns %j', (dns) => {
    expect(wire(forVersion({ ...ours(), dns }, '0.3.1'))).toHaveProperty('dns', dns);
  });

  it.each(['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'])('%s: an empty result is only its cniVersion', (v) => {
    expect(wire(forVersion({ cniVersion: '1.1.0', interfaces: [], ips: [], routes: [] }, v))).toEqual({ cniVersion: v });
  });
});

describe('familyOf', () => {
  it.each([
    ['10.16.0.5/16', '4'],
    ['10.16.0.5', '4'],
    ['fd00:10:16::5/64', '6'],
    ['::ffff:10.16.0.5/128', '6'],
  ])('%s is IPv%s', (address, want) => {
    expect(familyOf(address)).toBe(want);
  });
});

describe('parsePrevResult', () => {
  it('parses a 0.3.1 result, version fields and all', () => {
    const prev = {
      cniVersion: '0.3.1',
      interfaces: [{ name: 'eth0', mac: '0a:58:0a:f4:00:05', sandbox: '/var/run/netns/cni-1' }],
      ips: [{ version: '4', interface: 0, address: '10.244.0.5/24', gateway: '10.244.0.1' }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.244.0.1' }],
      dns: { nameservers: ['10.96.0.10'] },
    };
    expect(parsePrevResult(prev)).toEqual(prev);
  });

  it.each([
    [null, 'null'],
    [undefined, 'absent'],
    ['garbage', 'a string'],
    [42, 'a number'],
    [[], 'an array'],
    [{ ips: 'garbage' }, 'ips is not a list'],
    [{ interfaces: [{ mac: '0a:58:0a:f4:00:05' }] }, 'an interface without a name'],
    [{ ips: [{ version: '5', address: '10.244.0.5/24' }] }, 'an IP version that is neither 4 nor 6'],
    [{ ips: [{ interface: -1, address: '10.244.0.5/24' }] }, 'a negative interface index'],
  ])('%j is no prevResult (%s)', (raw, _why) => {
    expect(parsePrevResult(raw)).toBeUndefined();
  });
});

describe('mergeResults', () => {
  // A previous plugin in the chain that made a bridge, a veth and the pod's eth0.
  const prev: Result = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/var/run/netns/cni-1' }],
    ips: [{ interface: 2, address: '10.244.0.5/24', gateway: '10.244.0.1' }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.244.0.1' }],
    dns: { nameservers: ['10.96.0.10'] },
  };

  it('returns our result unchanged when there is no prevResult', () => {
    expect(mergeResults(undefined, ours())).toEqual(ours());
  });

  it("appends our interfaces after the previous ones and shifts our ips[].interface past them", () => {
    const merged = mergeResults(prev, ours());
    expect(merged.interfaces?.map((i) => i.name)).toEqual(['cni0', 'veth1', 'eth0', 'eth0', 'pf0vf2']);
    expect(merged.ips).toEqual([
      { interface: 2, address: '10.244.0.5/24', gateway: '10.244.0.1' },
      { interface: 3, address: '10.16.0.5/16', gateway: '10.16.0.1' },
      { interface: 3, address: 'fd00:10:16::5/64', gateway: 'fd00:10:16::1' },
    ]);
  });

  it('leaves an ips[] entry without an interface index without one', () => {
    const merged = mergeResults(prev, { ips: [{ address: '10.16.0.5/16' }] });
    expect(wire(merged.ips)).toEqual([prev.ips![0], { address: '10.16.0.5/16' }]);
  });

  it('shifts by nothing when the previous result has no interfaces', () => {
    const merged = mergeResults({ ips: [{ address: '10.244.0.5/24' }] }, ours());
    expect(merged.ips?.slice(1).map((ip) => ip.interface)).toEqual([0, 0]);
  });

  it('concatenates routes, previous first', () => {
    expect(mergeResults(prev, ours()).routes?.map((r) => r.dst)).toEqual(['0.0.0.0/0', '0.0.0.0/0', '::/0']);
  });

  it.each([
    [{ nameservers: ['10.16.0.10'] }, { nameservers: ['10.16.0.10'] }, 'ours when non-empty'],
    [{}, { nameservers: ['10.96.0.10'] }, "the previous one when ours is empty"],
    [undefined, { nameservers: ['10.96.0.10'] }, 'the previous one when we have none'],
  ])('dns is %j → %j (%s)', (dns, want, _why) => {
    expect(mergeResults(prev, { ...ours(), dns }).dns).toEqual(want);
  });

  it('a 0.3.1 caller sees the merged result with versions and without 1.1.0 keys', () => {
    const out = wire(forVersion(mergeResults(parsePrevResult({ ...prev, cniVersion: '0.3.1' }), ours()), '0.3.1')) as Result;
    expect(out.cniVersion).toBe('0.3.1');
    expect(out.ips?.map((ip) => [ip.version, ip.interface])).toEqual([['4', 2], ['4', 3], ['6', 3]]);
    expect(out.interfaces?.[3]).toEqual({ name: 'eth0', mac: '00:00:00:aa:bb:cc', sandbox: '/var/run/netns/cni-1' });
  });
});
