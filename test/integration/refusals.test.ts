/**
 * Each reason offload cannot work gives its own code, a one-line cause naming the device,
 * details with the fix, and no request to the daemon.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cniError, useWorld, VF0, PF } from '../support/harness.js';
import { connectx5 } from '../support/sim-node.js';

describe('refusals', () => {
  const world = useWorld();

  it('101: no deviceID, naming the resource annotation and request (guard, the default)', async () => {
    const w = world();
    const err = cniError(await w.run('ADD', { mode: undefined, deviceID: undefined, pciBusID: undefined }));
    expect(err).toMatchObject({ code: 101, msg: 'no deviceID: the pod was not given an SR-IOV VF' });
    expect(err.details).toContain('k8s.v1.cni.cncf.io/resourceName');
    expect(w.daemon.requests).toEqual([]);
  });

  it.each(['../../etc', '0000:42:00.2/../..', '0000:42:00.2\n', '42:00.2', ''.padEnd(300, 'a')])('7: deviceID %j is refused before any path is built from it', async (deviceID) => {
    const w = world();
    const err = cniError(await w.run('ADD', { deviceID }));
    expect(err.code).toBe(7);
    expect(err.msg).toMatch(/^deviceID .* from deviceID is not a PCI address$/);
    expect(w.log().some((l) => l.msg === 'offload checks')).toBe(false);
    expect(w.daemon.requests).toEqual([]);
  });

  it('102: a PCI address this node does not have', async () => {
    const err = cniError(await world().run('ADD', { deviceID: '0000:99:00.2' }));
    expect(err).toMatchObject({ code: 102, msg: 'deviceID 0000:99:00.2 is not a PCI device on this node' });
  });

  it('102: the PF itself, which has no physfn', async () => {
    const err = cniError(await world().run('ADD', { deviceID: PF }));
    expect(err).toMatchObject({ code: 102, msg: 'deviceID 0000:42:00.0 is not an SR-IOV VF (it has no physfn)' });
  });

  it('103: legacy mode, with the devlink command that fixes it', async () => {
    const w = world();
    w.node.setMode(PF, 'legacy');
    const err = cniError(await w.run('ADD'));
    expect(err.msg).toBe('the eSwitch of PF 0000:42:00.0 is in legacy mode, not switchdev');
    expect(err.code).toBe(103);
    expect(err.details).toContain('`devlink dev eswitch set pci/0000:42:00.0 mode switchdev`');
    expect(w.daemon.requests).toEqual([]);
    expect(w.node.nsenterCalls()).toEqual([]); // the pod netns is not touched
  });

  it('103: legacy mode seen by phys_switch_id alone when devlink is absent and there is no compat file', async () => {
    const w = world();
    w.node.setTool('devlink', 'absent');
    w.node.setMode(PF, 'legacy');
    const err = cniError(await w.run('ADD'));
    expect(err.code).toBe(103);
    expect(err.details).toContain('no PF netdev has a phys_switch_id');
  });

  it('104: hw-tc-offload off, with the ethtool command that turns it on', async () => {
    const w = world();
    w.node.setHwTc(PF, 'off');
    const err = cniError(await w.run('ADD'));
    expect(err).toMatchObject({ code: 104, msg: 'hw-tc-offload is off on uplink enp66s0f0np0' });
    expect(err.details).toContain('`ethtool -K enp66s0f0np0 hw-tc-offload on`');
  });

  it('104: hw-tc-offload not supported (fixed off) is told apart from off', async () => {
    const w = world();
    w.node.setHwTc(PF, 'unsupported');
    const err = cniError(await w.run('ADD'));
    expect(err).toMatchObject({ code: 104, msg: 'hw-tc-offload is not supported on uplink enp66s0f0np0' });
  });

  it('105: no representor for the VF', async () => {
    const w = world();
    w.node.editVf(VF0, (vf) => (vf.rep = undefined));
    const err = cniError(await w.run('ADD'));
    expect(err).toMatchObject({ code: 105, msg: 'no representor found for VF 0 (0000:42:00.2) of PF 0000:42:00.0' });
  });

  it('108: a VF on vfio-pci without vf_driver', async () => {
    const w = world();
    w.node.editVf(VF0, (vf) => Object.assign(vf, { driver: 'vfio-pci', netdev: undefined }));
    const err = cniError(await w.run('ADD'));
    expect(err).toMatchObject({ code: 108, msg: 'VF 0000:42:00.2 is bound to vfio-pci, but vf_driver is not set' });
    expect(err.details).toContain('"vf_driver": "vfio-pci"');
  });

  it('108 passes when vf_driver says vfio-pci, and the daemon gets vf_driver', async () => {
    const w = world();
    w.node.editVf(VF0, (vf) => Object.assign(vf, { driver: 'vfio-pci', netdev: undefined }));
    const out = await w.run('ADD', { vf_driver: 'vfio-pci' });
    expect(out.exitCode).toBe(0);
    expect(w.received('/api/v1/add')[0]).toMatchObject({ vf_driver: 'vfio-pci' });
  });

  it('108: vf_driver vfio-pci while the VF is on mlx5_core', async () => {
    const err = cniError(await world().run('ADD', { vf_driver: 'vfio-pci' }));
    expect(err).toMatchObject({ code: 108, msg: 'VF 0000:42:00.2 is bound to mlx5_core, but vf_driver is vfio-pci' });
  });

  it('names the first failure and lists the others in details', async () => {
    const w = world();
    w.node.setHwTc(PF, 'off');
    const err = cniError(await w.run('ADD', { vf_driver: 'vfio-pci' }));
    expect(err.code).toBe(104);
    expect(err.details).toContain('also: VF 0000:42:00.2 is bound to mlx5_core, but vf_driver is vfio-pci');
  });

  it('with offload.enforce false, a failed prerequisite is a warning and the pod proceeds', async () => {
    const w = world();
    w.node.setHwTc(PF, 'off');
    const out = await w.run('ADD', { offload: { enforce: false } });
    expect(out.exitCode).toBe(0);
    expect(w.received('/api/v1/add')).toHaveLength(1);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining('hw-tc-offload is off on uplink enp66s0f0np0') }));
  });

  it('7: K8S_POD_NAME missing from CNI_ARGS, as kube-ovn refuses it', async () => {
    const err = cniError(await world().run('ADD', {}, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default' }));
    expect(err).toMatchObject({ code: 7, msg: 'K8S_POD_NAME is required in CNI_ARGS' });
  });
});

describe('node tools that misbehave', () => {
  const world = useWorld();

  it.each([
    ['devlink', 'garbage', 'devlink printed output that is not JSON'],
    ['ethtool', 'garbage', 'ethtool printed output that is not JSON'],
    ['devlink', 'hang', 'devlink did not answer within 1s'],
    ['ethtool', 'hang', 'ethtool did not answer within 1s'],
  ] as const)('5: %s that answers %s', async (tool, behaviour, msg) => {
    const w = world();
    w.node.setTool(tool, behaviour);
    const err = cniError(await w.run('ADD', { tool_timeout_s: 1 }));
    expect(err).toMatchObject({ code: 5, msg });
    expect(w.daemon.requests).toEqual([]);
  });

  it('a kernel without devlink falls back to sysfs', async () => {
    const w = world();
    w.node.setTool('devlink', 'nokernel');
    const out = await w.run('ADD');
    expect(out.exitCode).toBe(0);
    expect(w.log().find((l) => l.msg === 'offload checks')!.eswitch.source).toContain('phys_switch_id of enp66s0f0np0');
  });
});

describe('a sysfs that answers garbage', () => {
  const world = useWorld();

  it('5: a sysfs attribute that cannot be read names the file', async () => {
    const w = world();
    // A directory where phys_switch_id should be: read() fails with EISDIR, not "absent".
    const file = join(w.node.root, 'sys/devices/pci0000:40/0000:40:02.0', PF, 'net/enp66s0f0np0/phys_switch_id');
    rmSync(file);
    mkdirSync(file);
    const err = cniError(await w.run('ADD'));
    expect(err.code).toBe(5);
    expect(err.msg).toBe(`cannot read ${join(w.node.root, 'sys/bus/pci/devices', PF, 'net/enp66s0f0np0/phys_switch_id')}: EISDIR`);
  });
});

describe('the seed\'s remaining prerequisites: no bond, OVS hw-offload', () => {
  const bonded = useWorld({ spec: () => ({ pfs: [{ ...connectx5(), bond: 'bond0' }] }) });

  it('106: the uplink is enslaved to a bond', async () => {
    const w = bonded();
    const err = cniError(await w.run('ADD'));
    expect(err).toMatchObject({ code: 106, msg: 'uplink enp66s0f0np0 of PF 0000:42:00.0 is enslaved to bond bond0' });
    expect(err.details).toContain('"allow_bond": true');
  });

  it('offload.allow_bond accepts the bond (VF-LAG)', async () => {
    expect((await bonded().run('ADD', { offload: { allow_bond: true } })).exitCode).toBe(0);
  });
});

describe('an uplink under a master that is not a bond', () => {
  const bridged = useWorld({ spec: () => ({ pfs: [{ ...connectx5(), master: 'ovs-system' }] }) });

  it('is not refused: OVS and bridge masters are not bonds', async () => {
    expect((await bridged().run('ADD')).exitCode).toBe(0);
  });
});

describe('OVS other_config:hw-offload', () => {
  const world = useWorld();

  it.each([
    ['false', 'OVS other_config:hw-offload is "false", not true'],
    [undefined, 'OVS other_config:hw-offload is unset, not true'],
  ])('107: hw-offload=%s', async (value, msg) => {
    const w = world();
    if (value) await w.ovs.vsctl('set', 'Open_vSwitch', '.', `other_config:hw-offload=${value}`);
    else await w.ovs.vsctl('remove', 'Open_vSwitch', '.', 'other_config', 'hw-offload');
    const err = cniError(await w.run('ADD'));
    expect(err).toMatchObject({ code: 107, msg });
    expect(err.details).toContain('ovs-vsctl set Open_vSwitch . other_config:hw-offload=true');
  });

  it('an unreachable OVSDB is a warning, not a refusal', async () => {
    const w = world();
    const out = await w.run('ADD', { ovsdb_socket: join(w.node.root, 'no-such.sock') });
    expect(out.exitCode).toBe(0);
    expect(out.json!.warnings).toEqual([
      expect.stringMatching(/^OVS other_config:hw-offload is unverified: OVSDB not reachable \(.*ENOENT/),
      expect.stringMatching(/^port 5b45c61b307e_h not verified: OVSDB at .* is unreachable/),
    ]);
  });

  it('offload.check_ovs false does not ask OVSDB', async () => {
    const w = world();
    await w.ovs.vsctl('set', 'Open_vSwitch', '.', 'other_config:hw-offload=false');
    const out = await w.run('ADD', { offload: { check_ovs: false } });
    expect(out.exitCode).toBe(0);
    expect(w.log().find((l) => l.msg === 'offload checks')!.ovsHwOffload).toEqual({ state: 'not checked', detail: 'offload.check_ovs is false' });
  });
});
