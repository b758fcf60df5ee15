/**
 * The lifecycle an operator can trust, end to end as root: state kept and dropped, DEL
 * that succeeds however often and whatever is already gone, the stale representor port
 * removed from br-int in a real OVSDB, STATUS, GC, and many pods racing for few VFs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { createRig, finishRig, isRoot, linkInfo, type Rig } from '../support/e2e.js';
import { generateNicName } from '../support/sim-daemon.js';
import { invoke } from '../support/plugin.js';

const VF0 = '0000:42:00.2';
const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

describe.skipIf(!isRoot)('lifecycle (root)', () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    const done = rig;
    rig = undefined;
    await finishRig(done);
  });

  const ports = async (r: Rig) => (await r.ovs.vsctl('list-ports', 'br-int')).split('\n').filter(Boolean);
  const conf = (r: Rig, extra: Record<string, unknown> = {}) => ({
    cniVersion: '1.1.0', name: 'kube-ovn', type: 'kube-ovn-offload', server_socket: r.socket, ovsdb_socket: r.ovs.socket,
    log_file: r.logFile, deviceID: VF0, ...extra,
  });

  const portOf = (r: Rig, i = 0) => generateNicName(r.daemon.requests.filter((q) => q.path === '/api/v1/add')[i]!.body.container_id as string, 'eth0');

  it.each(['guard', 'shim'] as const)('%s: ADD → CHECK → DEL → DEL: the record and the br-int port come and go, and the second DEL succeeds', async (topology) => {
    rig = await createRig({ topology });
    const ns = await rig.netns();
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    const add = await rig.cnitool('add', ns);
    expect(add.exitCode).toBe(0);
    const rep = portOf(rig);
    expect(await ports(rig)).toEqual([rep]);
    const record = join(rig.stateDir, 'vf', `${VF0}.json`);
    expect(statSync(record).mode & 0o777).toBe(0o600);
    expect(files(join(rig.stateDir, 'lock'))).toEqual([]);

    expect((await rig.cnitool('check', ns)).exitCode).toBe(0);
    expect((await rig.cnitool('del', ns)).stderr).toBe('');
    expect(existsSync(record)).toBe(false);
    expect(await ports(rig)).toEqual([]);
    const again = await rig.cnitool('del', ns);
    expect(again.stderr).toBe('');
    expect(again.exitCode).toBe(0);
  });

  it('shim: DEL after the netns is gone: the daemon answers 500; the plugin removes the port, resets the VF MAC and succeeds', async () => {
    rig = await createRig({ topology: 'shim' });
    const ns = await rig.netns();
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    expect((await rig.cnitool('add', ns)).exitCode).toBe(0);
    const rep = portOf(rig);
    expect(rig.node.vf(VF0).vf.adminMac).toBe('00:00:00:00:00:02');
    await execa('ip', ['netns', 'del', ns.split('/').pop()!], { timeout: 10_000 });

    const del = await rig.cnitool('del', ns);
    expect(del.stderr).toBe('');
    expect(del.exitCode).toBe(0);
    expect(rig.daemon.requests.at(-1)!.path).toBe('/api/v1/del'); // it asked the daemon first
    expect(await ports(rig)).toEqual([]);
    expect(rig.node.vf(VF0).vf.adminMac).toBe('00:00:00:00:00:00');
    expect(files(join(rig.stateDir, 'vf'))).toEqual([]);
    expect(readFileSync(rig.logFile, 'utf8')).toContain(`removed stale port ${rep} from br-int`);
  });

  it('guard: after the netns is gone kube-ovn\'s DEL fails (11) until the runtime\'s DEL with an empty netns, which the plugin finishes', async () => {
    rig = await createRig({ topology: 'guard' });
    const ns = await rig.netns();
    const sandbox = 'f59767eb2c575cf70fe6c72ceaa46291137cfec7a17b85a5faad842d73f3645e';
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    expect((await rig.cnitool('add', ns, { containerId: sandbox })).exitCode).toBe(0);
    await execa('ip', ['netns', 'del', ns.split('/').pop()!], { timeout: 10_000 });

    // StopPodSandbox: kube-ovn's binary runs before ours (libcni deletes in reverse) and fails.
    const stop = await rig.cnitool('del', ns, { containerId: sandbox });
    expect(stop.error).toMatchObject({ code: 11, msg: 'RPC failed' });
    expect(files(join(rig.stateDir, 'vf'))).toEqual([`${VF0}.json`]);
    // RemovePodSandbox: CNI_NETNS empty, no prevResult; the daemon does nothing (204), we clean up.
    const remove = await rig.cnitool('del', '', { containerId: sandbox });
    expect(remove.stderr).toBe('');
    expect(remove.exitCode).toBe(0);
    expect(await ports(rig)).toEqual([]);
    expect(rig.node.vf(VF0).vf.adminMac).toBe('00:00:00:00:00:00');
    expect(files(join(rig.stateDir, 'vf'))).toEqual([]);
  });

  it('shim: DEL without the state file still tears down through the daemon', async () => {
    rig = await createRig({ topology: 'shim' });
    const ns = await rig.netns();
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    const vfName = rig.node.vf(VF0).vf.netdev!;
    expect((await rig.cnitool('add', ns)).exitCode).toBe(0);
    rmSync(join(rig.stateDir, 'vf', `${VF0}.json`));
    expect((await rig.cnitool('del', ns)).exitCode).toBe(0);
    expect(await ports(rig)).toEqual([]);
    // Without the record the plugin does not know the VF's name to bring it back: it stays in
    // the pod netns, renamed back by the daemon, until the runtime destroys that netns.
    expect(await linkInfo(vfName)).toBeUndefined();
    expect(await linkInfo(vfName, ns.split('/').pop())).toBeDefined();
  });

  it('a second pod given a VF that a live pod holds is refused (11), and gets it once the first is deleted', async () => {
    rig = await createRig();
    const [a, b] = [await rig.netns(), await rig.netns()];
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    expect((await rig.cnitool('add', a, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=a' })).exitCode).toBe(0);
    const macOfA = rig.node.vf(VF0).vf.adminMac;
    const refused = await rig.cnitool('add', b, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b' });
    expect(refused.error).toMatchObject({ code: 11, msg: `VF ${VF0} is still attached to pod default/a` });
    // The runtime deletes the refused pod: kube-ovn's DEL resets the VF's MAC through the PF
    // (deleteNic), then ours puts pod a's back.
    expect((await rig.cnitool('del', b, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b' })).exitCode).toBe(0);
    expect(rig.node.vf(VF0).vf.adminMac).toBe(macOfA);
    expect(macOfA).toMatch(/^00:00:00:00:00:0[1-9]$/);
    expect((await rig.cnitool('del', a, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=a' })).exitCode).toBe(0);
    expect((await rig.cnitool('add', b, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b' })).exitCode).toBe(0);
    expect((await rig.cnitool('del', b, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b' })).exitCode).toBe(0);
  });

  it('STATUS is ready on a healthy node, 51 when the uplink loses hw-tc-offload, 50 without the daemon', async () => {
    rig = await createRig();
    const status = () => invoke({ command: 'STATUS', conf: conf(rig!), env: rig!.env, cniEnv: { CNI_CONTAINERID: '', CNI_NETNS: '', CNI_IFNAME: '', CNI_ARGS: '' } });
    expect(await status()).toMatchObject({ exitCode: 0, stdout: '' });
    rig.node.setHwTc('0000:42:00.0', 'off');
    expect((await status()).json).toMatchObject({ code: 51, msg: `offload is degraded on this node: PF 0000:42:00.0: hw-tc-offload is off on uplink ${rig.node.pf().uplink} (104)` });
    await rig.daemon.stop();
    expect((await status()).json).toMatchObject({ code: 50 });
  });

  it('GC forgets attachments the runtime no longer lists, with their br-int ports, and keeps the listed ones', async () => {
    rig = await createRig({ vfs: 2 });
    const [a, b] = [await rig.netns(), await rig.netns()];
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    const addA = await rig.cnitool('add', a, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=a' });
    rig.conflist({ cniVersion: '1.0.0', deviceID: '0000:42:00.3' });
    const addB = await rig.cnitool('add', b, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b' });
    const cidOf = (i: number) => rig!.daemon.requests.filter((r) => r.path === '/api/v1/add')[i]!.body.container_id as string;
    expect(await ports(rig)).toHaveLength(2);
    expect([addA.exitCode, addB.exitCode]).toEqual([0, 0]);

    const gc = await invoke({
      command: 'GC',
      conf: conf(rig, { 'cni.dev/valid-attachments': [{ containerID: cidOf(1), ifname: 'eth0' }] }),
      env: rig.env,
      cniEnv: { CNI_CONTAINERID: '', CNI_NETNS: '', CNI_IFNAME: '', CNI_ARGS: '' },
    });
    expect(gc).toMatchObject({ exitCode: 0, stdout: '' });
    expect(files(join(rig.stateDir, 'vf'))).toEqual(['0000:42:00.3.json']);
    expect(await ports(rig)).toEqual([portOf(rig, 1)]);
    rig.conflist({ cniVersion: '1.0.0', deviceID: '0000:42:00.3' });
    expect((await rig.cnitool('del', b, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b' })).exitCode).toBe(0);
  });

  it('guard: 50 pods ADD then DEL in parallel over 8 VFs, each VF handed from pod to pod: every VF ends free, nothing is left', async () => {
    rig = await createRig({ vfs: 8 });
    const vfs = rig.node.pf().vfs.map((v) => ({ pci: v.pci, name: v.netdev! }));
    for (const vf of vfs) rig.conflist({ cniVersion: '1.0.0', deviceID: vf.pci });
    const pods = await Promise.all(Array.from({ length: 50 }, () => rig!.netns()));
    let refusals = 0;
    await Promise.all(pods.map(async (ns, i) => {
      const args = `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p-${i}`;
      const deviceID = vfs[i % vfs.length]!.pci;
      // As kubelet does: retry, after a pause, while the VF is still held by the pod before (code 11).
      for (let attempt = 0; ; attempt++) {
        const add = await rig!.cnitool('add', ns, { args, deviceID });
        if (add.exitCode === 0) break;
        // Only "held by the pod before" may refuse: a 108 or a daemon 500 would mean two pods got one VF.
        expect(add.error?.code, add.stderr).toBe(11);
        expect(add.error?.msg, JSON.stringify(add.error)).toMatch(/is still attached to pod|is busy/);
        expect(attempt).toBeLessThan(400);
        refusals++;
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 400));
      }
      const del = await rig!.cnitool('del', ns, { args, deviceID });
      expect(del.exitCode, del.stderr).toBe(0);
    }));
    expect(files(join(rig.stateDir, 'vf'))).toEqual([]);
    expect(files(join(rig.stateDir, 'lock'))).toEqual([]);
    expect(await ports(rig)).toEqual([]);
    for (const vf of vfs) expect(await linkInfo(vf.name), vf.name).toBeDefined();
    console.log(`50 pods over 8 VFs: ${refusals} ADDs refused while the VF was held, then retried`);
  }, 600_000);
});
