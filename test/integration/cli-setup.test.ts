/** `kube-ovn-offload setup` on simulated nodes: the plan, --apply, idempotence, refusals. */
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectx5 } from '../support/sim-node.js';
import { StateStore } from '../../src/plugin/state.js';
import { useCliNode } from '../support/cli-node.js';

const LEGACY = () => ({ pfs: [connectx5({ mode: 'legacy', hwTc: 'off' })] });

describe('setup', () => {
  const make = useCliNode();

  it('without --apply prints the plan as shell commands, skips what is done, and changes nothing', async () => {
    const n = await make({ spec: LEGACY() });
    const out = await n.cli('setup', '--pf', 'enp66s0f0np0', '--vfs', '4');
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toContain('# create 4 VFs (now 4) — skipped, already done\n# echo 4 > /sys/bus/pci/devices/0000:42:00.0/sriov_numvfs');
    expect(out.stdout).toContain('echo 0000:42:00.2 > /sys/bus/pci/drivers/mlx5_core/unbind');
    expect(out.stdout).toContain('\ndevlink dev eswitch set pci/0000:42:00.0 mode switchdev\n');
    expect(out.stdout).toContain('\nethtool -K enp66s0f0np0 hw-tc-offload on\n');
    expect(out.stdout).toContain('echo 0000:42:00.5 > /sys/bus/pci/drivers/mlx5_core/bind');
    expect((await n.cli('doctor', '--json')).exitCode).toBe(1); // still legacy
  });

  it('--apply makes the node pass doctor, and a second --apply changes nothing', async () => {
    const n = await make({ spec: LEGACY() });
    const first = await n.cli('setup', '--pf', '0000:42:00.0', '--vfs', '4', '--apply');
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toContain('done  set the eSwitch to switchdev');
    expect(first.stdout).toContain('done  turn hw-tc-offload on, on enp66s0f0np0');
    const doctor = await n.cli('doctor', '--json');
    expect(doctor.exitCode).toBe(0);
    const second = await n.cli('setup', '--pf', '0000:42:00.0', '--vfs', '4', '--apply');
    expect(second.exitCode).toBe(0);
    expect(second.stdout.split('\n').filter((l) => /^(skip|done|FAIL) /.test(l))).toEqual([
      'skip  create 4 VFs (now 4) (already done)',
      'skip  unbind the VFs from mlx5_core (already done)',
      'skip  set the eSwitch to switchdev (already done)',
      'skip  turn hw-tc-offload on, on enp66s0f0np0 (already done)',
      'skip  bind the VFs to mlx5_core again (already done)',
    ]);
  });

  it('stops at the first failing step and says what was done and how to undo it', async () => {
    const n = await make({ spec: { pfs: [connectx5({ mode: 'legacy', hwTc: 'unsupported' })] } });
    const out = await n.cli('setup', '--pf', 'enp66s0f0np0', '--vfs', '4', '--apply');
    expect(out.exitCode).toBe(1);
    expect(out.stdout).toContain('FAIL  turn hw-tc-offload on, on enp66s0f0np0: ethtool -K enp66s0f0np0 hw-tc-offload on: netlink error');
    expect(out.stderr).toContain('Done before the failure: unbind the VFs from mlx5_core; set the eSwitch to switchdev.');
    expect(out.stderr).toContain('  devlink dev eswitch set pci/0000:42:00.0 mode legacy');
  });

  it('refuses to --apply while a VF of the PF is in use by a pod', async () => {
    const n = await make({ spec: LEGACY() });
    await new StateStore(n.stateDir).put({
      version: 1, network: 'kube-ovn', containerId: '5b45c61b307e0a9f', ifname: 'eth0', netns: '/var/run/netns/x', pod: { name: 'web-0', namespace: 'shop' },
      deviceID: '0000:42:00.3', pf: '0000:42:00.0', vfIndex: 1, representor: {}, result: {}, createdAt: new Date().toISOString(),
    });
    const out = await n.cli('setup', '--pf', 'enp66s0f0np0', '--vfs', '4', '--apply');
    expect(out.exitCode).toBe(1);
    expect(out.stderr).toContain('1 VF(s) are in use by pods: shop/web-0 (0000:42:00.3)');
  });

  it('binds VFs an earlier run left without a driver, even when the rest is done', async () => {
    const pf = connectx5();
    pf.vfs[1]!.driver = '';
    const n = await make({ spec: { pfs: [pf] }, services: false });
    const out = await n.cli('setup', '--pf', 'enp66s0f0np0', '--vfs', '4');
    expect(out.stdout).toContain('# bind the VFs to mlx5_core again\necho 0000:42:00.3 > /sys/bus/pci/drivers/mlx5_core/bind');
    const apply = await n.cli('setup', '--pf', 'enp66s0f0np0', '--vfs', '4', '--apply');
    expect(apply.stdout).toContain('done  bind the VFs to mlx5_core again');
  });

  it('refuses to --apply while a record it cannot read might be a pod\'s', async () => {
    const n = await make({ spec: LEGACY(), services: false });
    mkdirSync(join(n.stateDir, 'vf'), { recursive: true });
    writeFileSync(join(n.stateDir, 'vf', '0000:42:00.3.json'), '{broken');
    const out = await n.cli('setup', '--pf', 'enp66s0f0np0', '--vfs', '4', '--apply');
    expect(out.exitCode).toBe(1);
    expect(out.stderr).toContain('records of VFs 0000:42:00.3 cannot be read');
  });

  it.each([
    [['--pf', 'enp66s0f0np0', '--vfs', '9'], '--vfs 9 is more than sriov_totalvfs 8 of 0000:42:00.0'],
    [['--pf', 'enp66s0f0np0'], '--vfs needs a whole number of at least 1'],
    [['--vfs', '2'], '--pf is required'],
  ])('exits 2 for %j', async (args, msg) => {
    const n = await make({ services: false });
    const out = await n.cli('setup', ...args);
    expect(out.exitCode).toBe(2);
    expect(out.stderr).toContain(msg);
  });

  it('--emit-systemd prints a oneshot unit that applies the plan before the kubelet', async () => {
    const n = await make({ services: false });
    const out = await n.cli('setup', '--pf', 'enp66s0f0np0', '--vfs', '4', '--emit-systemd');
    expect(out.stdout).toContain('ExecStart=/opt/cni/bin/kube-ovn-offload setup --pf enp66s0f0np0 --vfs 4 --apply');
    expect(out.stdout).toContain('Before=kubelet.service');
    expect(out.stdout).toContain('Type=oneshot');
  });
});
