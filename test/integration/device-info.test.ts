/**
 * What the pod's network-status shows of its VF: the device-info file of a secondary network,
 * which Multus turns into the status's "device-info" (read here by nad-status, a model of
 * network-attachment-definition-client's reading), and the vfio-pci MTU warning.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useWorld, VF0, PF, type World } from '../support/harness.js';
import { NAD_STATUS } from '../support/kube-ovn-cni.js';

/** As Multus leaves it before ADD: the SR-IOV device plugin's file, copied, mode 0444. */
function multusCopy(w: World, extra: Record<string, string> = {}): string {
  const dir = join(w.node.root, 'devinfo', 'cni');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'guard-net1-device.json');
  writeFileSync(file, JSON.stringify({ type: 'pci', version: '1.0.0', pci: { 'pci-address': VF0, ...extra } }));
  chmodSync(file, 0o444);
  return file;
}

/** The network-status entry Multus would write for net1 from this file. */
function networkStatus(file: string): Record<string, unknown> {
  return JSON.parse(execFileSync(NAD_STATUS, ['default/guard', 'net1', file], { timeout: 10_000, encoding: 'utf8' })) as Record<string, unknown>;
}

// Multus passes the file's path in runtimeConfig when the NAD entry declares the capability.
const withFile = (file: string) => ({ runtimeConfig: { deviceID: VF0, CNIDeviceInfoFile: file } });

describe('the device-info file of a secondary network', () => {
  const world = useWorld();

  // kube-ovn names the representor <cid[:12-len(ifname)]>_<ifname>_h: guard writes the name it will
  // give, shim the name sysfs shows after the daemon gave it.
  it.each(['guard', 'shim'])('%s: network-status shows the VF, its PF and its representor, and the device plugin\'s keys stay', async (mode) => {
    const w = world();
    const file = multusCopy(w, { 'rdma-device': 'mlx5_2' });
    const out = await w.run('ADD', { mode, ...withFile(file) }, { ifname: 'net1' });
    expect(out.exitCode, out.stdout).toBe(0);
    expect(networkStatus(file)).toEqual({
      name: 'default/guard',
      interface: 'net1',
      'device-info': { type: 'pci', version: '1.1.0', pci: { 'pci-address': VF0, 'rdma-device': 'mlx5_2', 'pf-pci-address': PF, 'representor-device': '5b45c61b_net1_h' } },
    });
    expect(statSync(file).mode & 0o777).toBe(0o444);
    expect(readdirSync(join(w.node.root, 'devinfo', 'cni'))).toEqual(['guard-net1-device.json']);
  });

  it('writes the file when Multus passed a path but no device plugin file was there', async () => {
    const w = world();
    const file = join(w.node.root, 'devinfo', 'cni', 'new-net1-device.json');
    expect((await w.run('ADD', withFile(file), { ifname: 'net1' })).exitCode).toBe(0);
    expect(networkStatus(file)['device-info']).toEqual({ type: 'pci', version: '1.1.0', pci: { 'pci-address': VF0, 'pf-pci-address': PF, 'representor-device': '5b45c61b_net1_h' } });
  });

  it('touches no file when Multus passed none (the default network gets none)', async () => {
    const w = world();
    expect((await w.run('ADD', { runtimeConfig: { deviceID: VF0 } })).exitCode).toBe(0);
    expect(existsSync(join(w.node.root, 'devinfo'))).toBe(false);
    expect(w.log().some((l) => String(l.msg).startsWith('device-info'))).toBe(false);
  });

  it('leaves a file of another type alone, and says so', async () => {
    const w = world();
    const file = multusCopy(w);
    chmodSync(file, 0o644);
    writeFileSync(file, JSON.stringify({ type: 'vdpa', version: '1.1.0', vdpa: { 'parent-device': 'vdpa:0000:42:00.2' } }));
    expect((await w.run('ADD', withFile(file), { ifname: 'net1' })).exitCode).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ type: 'vdpa', version: '1.1.0', vdpa: { 'parent-device': 'vdpa:0000:42:00.2' } });
    expect(w.log()).toContainEqual(expect.objectContaining({ msg: `device-info ${file}: left alone: its type is "vdpa", not "pci"` }));
  });

  it('a file that cannot be written is a warning: the pod is attached all the same', async () => {
    const w = world();
    const blocker = join(w.node.root, 'devinfo');
    writeFileSync(blocker, 'a file where the folder should be');
    const file = join(blocker, 'cni', 'x-net1-device.json');
    const out = await w.run('ADD', withFile(file), { ifname: 'net1' });
    expect(out.exitCode, out.stdout).toBe(0);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringMatching(new RegExp(`^device-info ${file} not updated: ENOTDIR`)) }));
  });
});

describe('a VF bound to vfio-pci', () => {
  const world = useWorld();

  it('warns that the guest\'s MTU must be at most the pod network\'s, in the result and the log', async () => {
    const w = world();
    w.node.editVf(VF0, (vf) => Object.assign(vf, { driver: 'vfio-pci', netdev: undefined }));
    const out = await w.run('ADD', { vf_driver: 'vfio-pci' });
    expect(out.exitCode, out.stdout).toBe(0);
    const warning = `VF ${VF0} is bound to vfio-pci: the guest or DPDK application sets its own MTU, which must be at most 1400, the pod network's MTU, or TCP breaks (kube-ovn#2155)`;
    expect(out.json!.warnings).toContain(warning);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: warning }));
  });

  it('says nothing of MTUs for a VF on mlx5_core', async () => {
    const out = await world().run('ADD');
    expect(out.json!.warnings ?? []).toEqual([]);
  });
});
