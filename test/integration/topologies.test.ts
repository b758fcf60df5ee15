/**
 * The two topologies of docs/topologies.md through the built bundle, against the strict simulated
 * daemon (no root: the simulated node's model stands for the kernel). Guard checks and
 * records and never calls the daemon; shim forwards, and passes pods without a VF through.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cniError, LIVE_NETNS, useWorld, VF0 } from '../support/harness.js';

const CID = '5b45c61b307e0a9f8c7d6e5f4a3b2c1d';
const HOST = '5b45c61b307e_h'; // kube-ovn's name for this container's representor
const record = (stateDir: string) => JSON.parse(readFileSync(join(stateDir, 'vf', `${VF0}.json`), 'utf8')) as Record<string, any>;

describe('guard (the default): checks, records, and leaves the daemon to kube-ovn\'s binary', () => {
  const world = useWorld();
  const guard = { mode: undefined }; // the harness writes mode: shim; guard is what a NAD gets without the key

  it.each(['0.3.1', '1.0.0', '1.1.0'])('ADD at %s answers an empty result in the list\'s version and never calls the daemon', async (cniVersion) => {
    const w = world();
    const out = await w.run('ADD', { ...guard, cniVersion });
    expect(out.stderr).toBe('');
    expect(out.json).toEqual({ cniVersion });
    expect(w.daemon.requests).toEqual([]);
    expect(w.node.nsenterCalls()).toEqual([]); // the IPv6 sysctls are kube-ovn's binary's to set
    expect(record(w.stateDir)).toMatchObject({
      mode: 'guard', containerId: CID, netns: LIVE_NETNS, deviceID: VF0, vfNetdev: 'enp66s0f0v0', uplink: 'enp66s0f0np0',
      representor: { original: 'enp66s0f0r0', host: HOST }, result: {},
    });
  });

  it('passes an earlier plugin\'s result through unchanged', async () => {
    const w = world();
    const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'lo', sandbox: LIVE_NETNS }], ips: [{ interface: 0, address: '127.0.0.1/8' }] };
    const out = await w.run('ADD', { ...guard, cniVersion: '1.0.0', prevResult });
    expect(out.json).toEqual(prevResult);
  });

  it('101 without a VF; with offload.require_vf false a pod without one passes: empty result, no record', async () => {
    const w = world();
    const noVf = { ...guard, deviceID: undefined, pciBusID: undefined };
    expect(cniError(await w.run('ADD', noVf)).code).toBe(101);
    const out = await w.run('ADD', { ...noVf, offload: { require_vf: false } });
    expect(out.json).toEqual({ cniVersion: '1.1.0' });
    expect(w.stateFiles()).toEqual([]);
    expect((await w.run('DEL', { ...noVf, offload: { require_vf: false } })).exitCode).toBe(0);
    expect(w.daemon.requests).toEqual([]);
  });

  it('DEL brings the VF kube-ovn\'s DEL left in the pod netns back to the host, and drops the record, without the daemon', async () => {
    const w = world();
    await w.run('ADD', guard);
    // What kube-ovn's binary and daemon did meanwhile: the representor renamed; on DEL the VF
    // renamed back to its own name, but left in the pod's netns (releaseVf).
    w.node.renameNetdev('enp66s0f0r0', HOST);
    w.node.vfLeftHost(VF0, { netns: LIVE_NETNS, name: 'enp66s0f0v0', alias: 'enp66s0f0v0' });
    expect((await w.run('DEL', guard)).exitCode).toBe(0);
    expect(w.node.vf(VF0).vf.netdev).toBe('enp66s0f0v0');
    expect(w.node.nsenterCalls()).toContainEqual([`--net=${LIVE_NETNS}`, 'ip', 'link', 'set', 'dev', 'enp66s0f0v0', 'netns', expect.stringMatching(/^\d+$/)]);
    expect(w.stateFiles()).toEqual([]);
    expect(w.daemon.requests).toEqual([]);
  });

  it('DEL finds the VF under the pod\'s ifname when the daemon could not rename it back', async () => {
    const w = world();
    await w.run('ADD', guard);
    w.node.vfLeftHost(VF0, { netns: LIVE_NETNS, name: 'eth0', alias: 'enp66s0f0v0' });
    expect((await w.run('DEL', guard)).exitCode).toBe(0);
    expect(w.node.vf(VF0).vf.netdev).toBe('enp66s0f0v0');
  });

  it('DEL with an empty CNI_NETNS (containerd\'s from RemovePodSandbox) finishes what the daemon skipped: port off br-int, VF MAC cleared', async () => {
    const w = world();
    await w.run('ADD', guard);
    await w.ovs.vsctl('add-port', 'br-int', HOST, '--', 'set', 'interface', HOST, 'type=internal');
    w.node.setVfMac('enp66s0f0np0', 0, '00:00:00:00:00:02');
    expect((await w.run('DEL', guard, { netns: '' })).exitCode).toBe(0);
    expect(await w.ovs.vsctl('list-ports', 'br-int')).toBe('');
    expect(w.node.vf(VF0).vf.adminMac).toBe('00:00:00:00:00:00');
    expect(w.stateFiles()).toEqual([]);
    expect(w.daemon.requests).toEqual([]);
  });

  it('CHECK compares the representor with the name kube-ovn gave it', async () => {
    const w = world();
    await w.run('ADD', guard);
    const prevResult = { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', sandbox: LIVE_NETNS }] };
    w.node.setNetnsLinks(LIVE_NETNS, { eth0: { ifname: 'eth0', addr_info: [] } });
    expect(cniError(await w.run('CHECK', { ...guard, prevResult }))).toMatchObject({ code: 105, msg: `the representor of VF ${VF0} is enp66s0f0r0, not ${HOST} as ADD left it` });
    w.node.renameNetdev('enp66s0f0r0', HOST); // as kube-ovn's daemon does
    expect(await w.run('CHECK', { ...guard, prevResult })).toMatchObject({ exitCode: 0, stdout: '' });
  });
});

describe('shim: forwards to the daemon itself', () => {
  const world = useWorld();

  it('passes a pod without a VF straight through: the daemon gets deviceID "", no checks, no record, never 101', async () => {
    const w = world();
    w.node.setMode('0000:42:00.0', 'legacy'); // would refuse a VF; nobody looks
    const out = await w.run('ADD', { deviceID: undefined, pciBusID: undefined });
    expect(out.json).toEqual({
      cniVersion: '1.1.0',
      interfaces: [{ name: 'eth0', mac: '00:00:00:00:00:02', mtu: 1400, sandbox: LIVE_NETNS }],
      ips: [{ interface: 0, address: '10.16.0.2/16', gateway: '10.16.0.1' }],
      routes: [{ dst: '10.16.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.16.0.1' }],
    });
    expect(w.received('/api/v1/add')[0]).toMatchObject({ deviceID: '', provider: 'ovn' });
    expect(w.stateFiles()).toEqual([]);
    expect(w.log().find((l) => l.msg === 'offload checks')).toBeUndefined();
    expect((await w.run('CHECK', { deviceID: undefined, pciBusID: undefined, prevResult: out.json })).exitCode).toBe(0);
    expect((await w.run('DEL', { deviceID: undefined, pciBusID: undefined })).exitCode).toBe(0);
    expect(w.received('/api/v1/del')[0]).toMatchObject({ deviceID: '' });
  });

  it('101 without a VF when offload.require_vf is true', async () => {
    const w = world();
    expect(cniError(await w.run('ADD', { deviceID: undefined, pciBusID: undefined, offload: { require_vf: true } })).code).toBe(101);
    expect(w.daemon.requests).toEqual([]);
  });

  it('DEL brings the VF the daemon left in the pod netns back to the host', async () => {
    const w = world();
    expect((await w.run('ADD')).exitCode).toBe(0);
    expect(w.node.vf(VF0).vf.away).toMatchObject({ netns: LIVE_NETNS, name: 'eth0', alias: 'enp66s0f0v0' });
    expect((await w.run('DEL')).exitCode).toBe(0);
    expect(w.node.vf(VF0).vf).toMatchObject({ netdev: 'enp66s0f0v0', adminMac: '00:00:00:00:00:00' });
    expect(w.node.vf(VF0).vf.away).toBeUndefined();
    expect(w.log()).toContainEqual(expect.objectContaining({ msg: `returned VF enp66s0f0v0 from ${LIVE_NETNS} to the host` }));
  });
});

describe('both topologies', () => {
  const world = useWorld();

  it.each(['guard', 'shim'])('%s: 4 for an ifname kube-ovn\'s daemon would crash on; its DEL succeeds with nothing to do', async (mode) => {
    const w = world();
    const err = cniError(await w.run('ADD', { mode }, { ifname: 'net1234567890' }));
    expect(err).toMatchObject({ code: 4, msg: 'CNI_IFNAME "net1234567890" is too long for kube-ovn' });
    expect(err.details).toContain('at most 12');
    expect((await w.run('DEL', { mode }, { ifname: 'net1234567890' })).exitCode).toBe(0);
    expect(w.daemon.requests).toEqual([]);
  });

  it.each(['guard', 'shim'])('%s: a VF whose netdev is in another netns (a previous pod\'s) is 11, not 108', async (mode) => {
    const w = world();
    w.node.vfLeftHost(VF0, { netns: '/proc/1/ns/net', name: 'enp66s0f0v0' });
    const err = cniError(await w.run('ADD', { mode }));
    expect(err).toMatchObject({ code: 11, msg: `VF ${VF0} has no network device in the host netns: it is still inside a previous pod's netns` });
    expect(w.daemon.requests).toEqual([]);
  });

  it('a VF on vfio-pci without vf_driver is still 108: no netdev is expected anywhere', async () => {
    const w = world();
    w.node.editVf(VF0, (vf) => Object.assign(vf, { driver: 'vfio-pci', netdev: undefined }));
    expect(cniError(await w.run('ADD', { mode: 'guard' })).code).toBe(108);
  });

  it.each(['guard', 'shim'])('%s: 7 when this pod already has the VF for another network (Multus gave it twice)', async (mode) => {
    const w = world();
    expect((await w.run('ADD', { mode })).exitCode).toBe(0);
    const err = cniError(await w.run('ADD', { mode }, { ifname: 'net1' }));
    expect(err).toMatchObject({ code: 7, msg: `VF ${VF0} is already this pod's, as kube-ovn/eth0` });
    expect(err.details).toContain('must not also be used by a secondary network');
  });

  it('a record whose netns path is no longer a namespace (an empty file left behind) is stale', async () => {
    const w = world();
    const leftover = join(w.node.root, 'leftover-netns');
    writeFileSync(leftover, '');
    expect((await w.run('ADD', { mode: 'guard' }, { netns: leftover })).exitCode).toBe(0);
    const other = { containerId: 'ffffffffffff0000aaaabbbbcccc', args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=other' };
    expect((await w.run('ADD', { mode: 'guard' }, other)).exitCode).toBe(0);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining(`whose netns ${leftover} is gone; taking it over`) }));
  });
});

describe('the daemon\'s refusals, explained (shim)', () => {
  describe('kube-ovn HEAD, a NAD provider without its Subnet', () => {
    const world = useWorld({ cluster: { version: 'head', anyPod: { 'v1.multus-cni.io/default-network': 'default/default' } } });

    it('7 naming the Subnet to create', async () => {
      const err = cniError(await world().run('ADD', { provider: 'default.default.ovn' }));
      expect(err).toMatchObject({ code: 7, msg: 'kube-ovn has no Subnet for provider default.default.ovn' });
      expect(err.details).toContain('Create a Subnet with spec.provider default.default.ovn');
    });
  });

  describe('kube-ovn v1.16.2, a pod on another default network', () => {
    const world = useWorld({ cluster: { version: 'v1.16.2', anyPod: { 'v1.multus-cni.io/default-network': 'default/default' } }, daemon: { waitMs: { address: 50 } } });

    it('11 naming the NAD-type and provider rules, after the daemon\'s wait', async () => {
      const err = cniError(await world().run('ADD'));
      expect(err).toMatchObject({ code: 11, msg: 'kube-ovn allocated no address to pod default/nginx for provider ovn' });
      expect(err.details).toContain('only to pods without the v1.multus-cni.io/default-network annotation');
      expect(err.details).toContain('kubectl -n kube-system logs deploy/kube-ovn-controller | grep nginx');
    });
  });
});

describe('ports and MACs of pods that are gone', () => {
  const world = useWorld();
  const other = { containerId: 'ffffffffffff0000aaaabbbbcccc', args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=other' };

  it.each(['guard', 'shim'])('%s: taking a dead pod\'s VF over removes its port; its late DEL (empty CNI_NETNS) removes that pod\'s port, and only it', async (mode) => {
    const w = world();
    const pod = await w.podNetns();
    expect((await w.run('ADD', { mode }, { netns: pod.path })).exitCode).toBe(0);
    await w.ovs.vsctl('--may-exist', 'add-port', 'br-int', HOST, '--', 'set', 'interface', HOST, 'type=internal');
    await pod.destroy();
    expect((await w.run('ADD', { mode }, other)).exitCode).toBe(0); // takes the VF over, and the dead pod's port away
    expect(await w.ovs.vsctl('list-ports', 'br-int')).not.toContain(HOST);
    await w.ovs.vsctl('--may-exist', 'add-port', 'br-int', HOST, '--', 'set', 'interface', HOST, 'type=internal'); // made again meanwhile
    const macOfOther = w.node.vf(VF0).vf.adminMac;
    expect((await w.run('DEL', { mode }, { netns: '' })).exitCode).toBe(0);
    expect(await w.ovs.vsctl('list-ports', 'br-int')).not.toContain(HOST);
    expect(w.node.vf(VF0).vf.adminMac).toBe(macOfOther); // the new holder's VF left alone
    expect(record(w.stateDir).containerId).toBe(other.containerId);
  });

  it('guard: a port that cannot be removed fails the DEL (11) and keeps the record, for the runtime to retry', async () => {
    const w = world();
    await w.run('ADD', { mode: 'guard' });
    const err = cniError(await w.run('DEL', { mode: 'guard', ovsdb_socket: join(w.node.root, 'no-ovsdb.sock') }, { netns: '' }));
    expect(err).toMatchObject({ code: 11, msg: `port ${HOST} of a deleted pod cannot be removed from br-int` });
    expect(w.stateFiles()).toEqual([`vf/${VF0}.json`]);
    expect((await w.run('DEL', { mode: 'guard' }, { netns: '' })).exitCode).toBe(0);
    expect(w.stateFiles()).toEqual([]);
  });

  it('guard: leaves the MAC alone when sysfs no longer shows the recorded VF index (VFs re-created)', async () => {
    const w = world();
    await w.run('ADD', { mode: 'guard' });
    const file = join(w.stateDir, 'vf', `${VF0}.json`);
    writeFileSync(file, JSON.stringify({ ...record(w.stateDir), vfIndex: 1 }));
    w.node.setVfMac('enp66s0f0np0', 1, '00:00:00:00:00:99');
    expect((await w.run('DEL', { mode: 'guard' }, { netns: '' })).exitCode).toBe(0);
    expect(w.node.pf().vfs.map((v) => v.adminMac)).toEqual([undefined, '00:00:00:00:00:99', undefined, undefined]);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining(`VF ${VF0}'s MAC left alone: sysfs shows VF 0 of 0000:42:00.0`) }));
  });

  it('DEL moves no link of the pod\'s name that is not the VF', async () => {
    const w = world();
    await w.run('ADD', { mode: 'guard' });
    w.node.setNetnsLinks(LIVE_NETNS, { eth0: { ifname: 'eth0', ifalias: 'something-else' } });
    expect((await w.run('DEL', { mode: 'guard' })).exitCode).toBe(0);
    expect(w.node.nsenterCalls().filter((c) => c.includes('netns'))).toEqual([]);
    expect(w.log()).toContainEqual(expect.objectContaining({ msg: `VF enp66s0f0v0 is not in ${LIVE_NETNS} (links there: eth0)` }));
  });
});
