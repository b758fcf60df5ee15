/**
 * The lifecycle an operator can trust, end to end as root: state kept and dropped, DEL
 * that succeeds however often and whatever is already gone, the stale representor port
 * removed from br-int in a real OVSDB, STATUS, GC, and many pods racing for few VFs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { createRig, finishRig, isRoot, linkInfo, type Rig } from '../support/e2e.js';
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

  it('ADD → CHECK → DEL → DEL: the record and the br-int port come and go, and the second DEL succeeds', async () => {
    rig = await createRig();
    const ns = await rig.netns();
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    const add = await rig.cnitool('add', ns);
    expect(add.exitCode).toBe(0);
    const rep = add.json!.interfaces[1].name as string;
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

  it('DEL after the netns is gone: the daemon answers 500, the plugin removes the stale port from br-int and succeeds', async () => {
    rig = await createRig();
    const ns = await rig.netns();
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    const add = await rig.cnitool('add', ns);
    const rep = add.json!.interfaces[1].name as string;
    await execa('ip', ['netns', 'del', ns.split('/').pop()!], { timeout: 10_000 });

    const del = await rig.cnitool('del', ns);
    expect(del.stderr).toBe('');
    expect(del.exitCode).toBe(0);
    expect(rig.daemon.requests.at(-1)!.path).toBe('/api/v1/del'); // it asked the daemon first
    expect(await ports(rig)).toEqual([]);
    expect(files(join(rig.stateDir, 'vf'))).toEqual([]);
    const log = (await import('node:fs')).readFileSync(rig.logFile, 'utf8');
    expect(log).toContain(`removed stale port ${rep} from br-int`);
  });

  it('DEL without the state file still tears down through the daemon', async () => {
    rig = await createRig();
    const ns = await rig.netns();
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    const vfName = rig.node.vf(VF0).vf.netdev!;
    expect((await rig.cnitool('add', ns)).exitCode).toBe(0);
    rmSync(join(rig.stateDir, 'vf', `${VF0}.json`));
    expect((await rig.cnitool('del', ns)).exitCode).toBe(0);
    expect(await linkInfo(vfName)).toBeDefined();
    expect(await ports(rig)).toEqual([]);
  });

  it('a second pod given a VF that a live pod holds is refused (11), and gets it once the first is deleted', async () => {
    rig = await createRig();
    const [a, b] = [await rig.netns(), await rig.netns()];
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
    expect((await rig.cnitool('add', a, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=a' })).exitCode).toBe(0);
    const refused = await rig.cnitool('add', b, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b' });
    expect(refused.error).toMatchObject({ code: 11, msg: `VF ${VF0} is still attached to pod default/a` });
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

    const gc = await invoke({
      command: 'GC',
      conf: conf(rig, { 'cni.dev/valid-attachments': [{ containerID: cidOf(1), ifname: 'eth0' }] }),
      env: rig.env,
      cniEnv: { CNI_CONTAINERID: '', CNI_NETNS: '', CNI_IFNAME: '', CNI_ARGS: '' },
    });
    expect(gc).toMatchObject({ exitCode: 0, stdout: '' });
    expect(files(join(rig.stateDir, 'vf'))).toEqual(['0000:42:00.3.json']);
    expect(await ports(rig)).toEqual([addB.json!.interfaces[1].name]);
    expect(addA.exitCode).toBe(0);
    rig.conflist({ cniVersion: '1.0.0', deviceID: '0000:42:00.3' });
    expect((await rig.cnitool('del', b, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b' })).exitCode).toBe(0);
  });

  it('50 pods ADD then DEL in parallel over 8 VFs, twice: every VF ends free, nothing is left', async () => {
    rig = await createRig({ vfs: 8 });
    const vfs = rig.node.pf().vfs.map((v) => ({ pci: v.pci, name: v.netdev! }));
    for (const vf of vfs) rig.conflist({ cniVersion: '1.0.0', deviceID: vf.pci });
    const pods = await Promise.all(Array.from({ length: 50 }, () => rig!.netns()));
    let refusals = 0;
    for (const round of [1, 2]) {
      await Promise.all(pods.map(async (ns, i) => {
        const args = `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p${round}-${i}`;
        const deviceID = vfs[i % vfs.length]!.pci;
        // As kubelet does: retry while the VF is still held by the pod before (code 11).
        for (let attempt = 0; ; attempt++) {
          const add = await rig!.cnitool('add', ns, { args, deviceID });
          if (add.exitCode === 0) break;
          // Only "held by the pod before" may refuse: a 108 or a daemon 500 would mean two pods got one VF.
          expect(add.error?.code, add.stderr).toBe(11);
          expect(add.error?.msg).toMatch(/is still attached to pod|is busy/);
          expect(attempt).toBeLessThan(400);
          refusals++;
          await new Promise((r) => setTimeout(r, 50 + Math.random() * 150));
        }
        const del = await rig!.cnitool('del', ns, { args, deviceID });
        expect(del.exitCode, del.stderr).toBe(0);
      }));
    }
    expect(files(join(rig.stateDir, 'vf'))).toEqual([]);
    expect(files(join(rig.stateDir, 'lock'))).toEqual([]);
    expect(await ports(rig)).toEqual([]);
    for (const vf of vfs) expect(await linkInfo(vf.name), vf.name).toBeDefined();
    console.log(`50 pods × 2 rounds over 8 VFs: ${refusals} ADDs refused while the VF was held, then retried`);
  }, 600_000);
});
