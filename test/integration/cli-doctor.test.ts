/** `kube-ovn-offload doctor` on simulated nodes, through the built bundle. */
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectx5 } from '../support/sim-node.js';
import { useCliNode } from '../support/cli-node.js';

interface Check { scope: string; check: string; status: string; detail: string; fix?: string }
const byName = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.check, c]));

describe('doctor', () => {
  const make = useCliNode();

  it('passes every check it can see on a node set up as the guide says, and exits 0', async () => {
    const n = await make();
    const out = await n.cli('doctor', '--json');
    expect(out.stderr).toBe('');
    expect(out.exitCode).toBe(0);
    const { checks, summary } = JSON.parse(out.stdout) as { checks: Check[]; summary: Record<string, number> };
    expect(checks.map((c) => `${c.status} ${c.check}`)).toEqual([
      'PASS mellanox-pf', 'PASS kernel', 'PASS ovs-hw-offload', 'PASS kube-ovn-daemon', 'PASS vfs', 'PASS switchdev', 'PASS hw-tc-offload',
      'PASS bond', 'PASS vf-drivers', 'PASS representors', 'PASS networkmanager',
      // The CNI group (cli-doctor-cni.test.ts); the topology is a NAD, in the API: unseen, WARN.
      'PASS offload-plugin', 'PASS multus', 'PASS multus-chroot', 'WARN cni-topology', 'PASS kube-ovn-plugin',
    ]);
    expect(summary).toEqual({ pass: 15, warn: 1, fail: 0 });
    expect(byName(checks)['mellanox-pf']!.detail).toBe('0000:42:00.0 ConnectX-5 (enp66s0f0np0)');
    expect(byName(checks).representors!.detail).toBe('4 of 4: enp66s0f0r0 enp66s0f0r1 enp66s0f0r2 enp66s0f0r3');
  });

  it('names each failed prerequisite with its fix, and exits 1', async () => {
    const pf = { ...connectx5({ mode: 'legacy', hwTc: 'off' }), bond: 'bond0' };
    const n = await make({ spec: { pfs: [pf] }, kernel: '5.4.0-150-generic' });
    await n.ovs!.vsctl('set', 'Open_vSwitch', '.', 'other_config:hw-offload=false');
    await n.daemon!.stop();
    const out = await n.cli('doctor', '--json');
    expect(out.exitCode).toBe(1);
    const c = byName((JSON.parse(out.stdout) as { checks: Check[] }).checks);
    expect(c.kernel).toMatchObject({ status: 'FAIL', detail: '5.4.0-150-generic is older than 5.7' });
    expect(c.switchdev).toMatchObject({ status: 'FAIL', detail: 'eSwitch in legacy mode (devlink)' });
    expect(c.switchdev!.fix).toContain('devlink dev eswitch set pci/0000:42:00.0 mode switchdev');
    expect(c['hw-tc-offload']).toMatchObject({ status: 'FAIL', fix: 'ethtool -K enp66s0f0np0 hw-tc-offload on' });
    expect(c.bond).toMatchObject({ status: 'FAIL', detail: 'enp66s0f0np0 is enslaved to bond bond0' });
    expect(c.representors).toMatchObject({ status: 'FAIL' });
    expect(c['ovs-hw-offload']).toMatchObject({ status: 'FAIL', detail: 'other_config:hw-offload is "false"' });
    expect(c['kube-ovn-daemon']).toMatchObject({ status: 'FAIL' });
  });

  it('says WARN, not FAIL, for what it cannot verify: no ethtool, no OVSDB; and a NetworkManager that manages the PF', async () => {
    const n = await make({ services: false });
    n.node.setTool('ethtool', 'absent');
    const ifindex = join(n.node.root, 'sys/class/net/enp66s0f0np0/ifindex');
    writeFileSync(ifindex, '6\n');
    mkdirSync(join(n.node.root, 'run/NetworkManager/devices'), { recursive: true });
    writeFileSync(join(n.node.root, 'run/NetworkManager/devices/6'), '[device]\nmanaged=true\n');
    const c = byName((JSON.parse((await n.cli('doctor', '--json')).stdout) as { checks: Check[] }).checks);
    expect(c['hw-tc-offload']).toMatchObject({ status: 'WARN', detail: 'unverified on enp66s0f0np0: ethtool is not installed' });
    expect(c['ovs-hw-offload']!.status).toBe('WARN');
    expect(c.networkmanager).toMatchObject({ status: 'WARN', fix: 'nmcli device set enp66s0f0np0 managed no (or systemctl stop NetworkManager)' });
  });

  it('says vfio-pci VFs as such', async () => {
    const pf = connectx5();
    pf.vfs[3]!.driver = 'vfio-pci';
    const n = await make({ spec: { pfs: [pf] } });
    const c = byName((JSON.parse((await n.cli('doctor', '--json')).stdout) as { checks: Check[] }).checks);
    expect(c['vf-drivers']).toMatchObject({ status: 'PASS', detail: '3 on mlx5_core, 1 on vfio-pci (vfio-pci VFs need "vf_driver": "vfio-pci" in the NAD)' });
  });

  it('prints aligned lines without colour when stdout is not a terminal', async () => {
    const n = await make();
    const out = await n.cli('doctor', '--pf', 'enp66s0f0np0');
    expect(out.stdout).not.toContain('\x1b[');
    expect(out.stdout.endsWith('\n')).toBe(true);
    const lines = out.stdout.slice(0, -1).split('\n');
    expect(lines).toContain('  PASS  switchdev        switchdev (devlink)');
    expect(lines.at(-1)).toBe('PASS 15  WARN 1  FAIL 0');
  });

  it('exits 2 with its help for a PF it does not know', async () => {
    const n = await make({ services: false });
    const out = await n.cli('doctor', '--pf', 'eth9');
    expect(out.exitCode).toBe(2);
    expect(out.stderr).toContain('no Mellanox PF "eth9" on this node (found: 0000:42:00.0 ConnectX-5 (enp66s0f0np0))');
    expect(out.stderr).toContain('kube-ovn-offload doctor [--pf DEV]');
  });
});
