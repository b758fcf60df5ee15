/**
 * End to end, as root: libcni (our cnitool on Debian's libcni) runs the conflist
 * [kube-ovn-offload, tuning] against a pod netns on a simulated node whose VFs and
 * representors are real veth pairs. Assertions read the kernel and the result JSON.
 * Debian's libcni (1.1.2) knows CNI versions up to 1.0.0, so 1.1.0 results (pciID, mtu)
 * and STATUS/GC are covered by the integration suites, which invoke the plugin directly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createRig, finishRig, isRoot, linkInfo, routes, type Rig } from '../support/e2e.js';
import { hostNicName } from '../support/sim-daemon.js';
import { PLUGIN_BIN, SEA_BIN } from '../support/plugin.js';

const VF0 = '0000:42:00.2';

describe.skipIf(!isRoot).each([
  ['the bundle', PLUGIN_BIN],
  ['the single executable', SEA_BIN],
])('pod path through libcni (root), %s', (_, plugin) => {
  let rig: Rig | undefined;
  afterEach(async () => {
    const done = rig;
    rig = undefined;
    await finishRig(done);
  });

  it.each(['0.3.1', '1.0.0'])('ADD → CHECK → DEL with cniVersion %s puts the VF in the pod with the daemon address, then gives it back', async (cniVersion) => {
    rig = await createRig({ plugin });
    const ns = await rig.netns();
    const nsName = ns.split('/').pop()!;
    rig.conflist({ cniVersion, deviceID: VF0 });
    const vf = rig.node.vf(VF0).vf;
    const vfName = vf.netdev!;

    const sysctl = (key: string) => execa('ip', ['netns', 'exec', nsName, 'sysctl', '-n', key], { timeout: 10_000 }).then((r) => String(r.stdout).trim());
    await execa('ip', ['netns', 'exec', nsName, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.accept_ra=1'], { timeout: 10_000 });

    const add = await rig.cnitool('add', ns);
    expect(add.stderr).not.toContain('CNI_ERROR');
    expect(add.exitCode).toBe(0);
    const result = add.json!;
    expect(result.cniVersion).toBe(cniVersion);

    // The result: pod interface first (as kube-ovn's), the representor as a host interface.
    const containerId = rig.daemon.requests[0]!.body.container_id as string;
    const rep = hostNicName(containerId, 'eth0');
    expect(result.interfaces).toEqual([
      { name: 'eth0', mac: '00:00:00:00:00:02', sandbox: ns },
      { name: rep, mac: 'ee:00:00:00:42:00' },
    ]);
    expect(result.ips).toEqual([{ ...(cniVersion === '0.3.1' ? { version: '4' } : {}), interface: 0, address: '10.16.0.2/16', gateway: '10.16.0.1' }]);
    expect(result.routes).toContainEqual({ dst: '0.0.0.0/0', gw: '10.16.0.1' });

    // The kernel: the VF is eth0 in the pod with the daemon's MAC, MTU, address and route.
    const eth0 = await linkInfo('eth0', nsName);
    expect(eth0).toMatchObject({ address: '00:00:00:00:00:02', mtu: 1400, ifalias: vfName });
    expect(eth0!.addr_info).toContainEqual(expect.objectContaining({ family: 'inet', local: '10.16.0.2', prefixlen: 16 }));
    expect(await routes(nsName)).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.16.0.1', dev: 'eth0' }));
    expect(await linkInfo(vfName)).toBeUndefined();
    expect((await linkInfo(rep))?.flags).toContain('UP');
    // IPv6 on and RAs off in the pod, as kube-ovn's binary leaves it; tuning ran after us.
    expect([await sysctl('net.ipv6.conf.all.disable_ipv6'), await sysctl('net.ipv6.conf.default.accept_ra')]).toEqual(['0', '0']);
    expect(await sysctl('net.ipv4.conf.eth0.arp_notify')).toBe('1');

    const check = await rig.cnitool('check', ns);
    if (cniVersion === '0.3.1') {
      expect(check.exitCode).toBe(1);
      expect(check.stderr).toContain('does not support the CHECK command');
    } else {
      expect(check.stderr).toBe('');
      expect(check.exitCode).toBe(0);
    }

    const del = await rig.cnitool('del', ns);
    expect(del.stderr).toBe('');
    expect(del.exitCode).toBe(0);
    expect(await linkInfo('eth0', nsName)).toBeUndefined();
    expect(await linkInfo(vfName)).toBeDefined();
    expect((await linkInfo(rep))?.flags).not.toContain('UP');
    const delReq = rig.daemon.requests.at(-1)!;
    expect(delReq.path).toBe('/api/v1/del');
    expect(delReq.body).toMatchObject({ deviceID: VF0, net_ns: ns, if_name: 'eth0', routes: null, vf_driver: '' });
  });

  it('refuses the pod with 103 when the eSwitch is in legacy mode, and the VF stays on the host', async () => {
    rig = await createRig({ plugin });
    const ns = await rig.netns();
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    rig.node.setMode('0000:42:00.0', 'legacy');
    const vfName = rig.node.vf(VF0).vf.netdev!;

    const add = await rig.cnitool('add', ns);
    expect(add.exitCode).toBe(1);
    expect(add.error).toMatchObject({ code: 103, msg: 'the eSwitch of PF 0000:42:00.0 is in legacy mode, not switchdev' });
    expect(add.error!.details).toContain('devlink dev eswitch set pci/0000:42:00.0 mode switchdev');
    expect(rig.daemon.requests.filter((r) => r.path === '/api/v1/add')).toEqual([]);
    expect(await linkInfo(vfName)).toBeDefined();
  });

  it('CHECK fails with 103 once the eSwitch flips back to legacy, and with 109 when the pod lost its address', async () => {
    rig = await createRig({ plugin });
    const ns = await rig.netns();
    const nsName = ns.split('/').pop()!;
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    expect((await rig.cnitool('add', ns)).exitCode).toBe(0);

    await execa('ip', ['-n', nsName, 'addr', 'flush', 'dev', 'eth0'], { timeout: 10_000 });
    const lost = await rig.cnitool('check', ns);
    expect(lost.error).toMatchObject({ code: 109, msg: 'interface eth0 lacks 10.16.0.2/16' });

    rig.node.setMode('0000:42:00.0', 'legacy');
    const flipped = await rig.cnitool('check', ns);
    expect(flipped.error?.code).toBe(103);

    rig.node.setMode('0000:42:00.0', 'switchdev');
    expect((await rig.cnitool('del', ns)).exitCode).toBe(0);
  });

  it('two pods on two VFs of one PF each get their own VF and representor', async () => {
    rig = await createRig({ vfs: 2, plugin });
    const [nsA, nsB] = [await rig.netns(), await rig.netns()];
    const vfNames = rig.node.pf().vfs.map((v) => v.netdev);
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    const a = await rig.cnitool('add', nsA, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=a' });
    rig.conflist({ cniVersion: '1.0.0', deviceID: '0000:42:00.3' });
    const b = await rig.cnitool('add', nsB, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b' });
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect(a.json!.interfaces[1].name).not.toBe(b.json!.interfaces[1].name);
    expect(a.json!.ips[0].address).not.toBe(b.json!.ips[0].address);
    expect(await linkInfo('eth0', nsA.split('/').pop())).toMatchObject({ ifalias: vfNames[0] });
    expect(await linkInfo('eth0', nsB.split('/').pop())).toMatchObject({ ifalias: vfNames[1] });
    expect((await rig.cnitool('del', nsB, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b' })).exitCode).toBe(0);
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    expect((await rig.cnitool('del', nsA, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=a' })).exitCode).toBe(0);
  });
});
