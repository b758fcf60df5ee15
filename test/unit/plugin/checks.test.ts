/**
 * The catalogue of offload checks, judged in-process over hand-built facts: every code a
 * prerequisite can refuse with, every warning, and a node where all of them hold. The words are
 * the ones `kubectl describe pod` shows; the integration suite sees the same ones through ADD.
 */
import { describe, expect, it } from 'vitest';
import { CHECKS, judge, type OffloadFacts, type Wanted } from '../../../src/plugin/checks.js';

const PF = '0000:42:00.0';
const VF = '0000:42:00.2';
const UPLINK = 'enp66s0f0np0';

/** A ConnectX-5 VF in switchdev, hw-tc-offload on, OVS hw-offload=true: nothing fails. */
const ready = (): OffloadFacts => ({
  vf: { pci: VF, pf: PF, index: 0, netdevs: ['enp66s0f0v0'], driver: 'mlx5_core' },
  pf: PF,
  uplink: UPLINK,
  netdevs: ['enp66s0f0np0', 'enp66s0f0r0'],
  netdev: UPLINK,
  eswitch: { mode: 'switchdev', source: 'devlink' },
  hwTc: { state: 'on', source: 'ethtool' },
  representor: { name: 'enp66s0f0r0', source: 'devlink' },
  ovsHwOffload: { state: 'true', detail: 'OVSDB' },
});
const ADD: Wanted = { vfDriver: '', vfInHost: true };

const SWITCHDEV_FIX = `unbind the PF's VFs from mlx5_core, run \`devlink dev eswitch set pci/${PF} mode switchdev\`, then rebind the VFs`;

interface Case {
  name: string;
  facts: (f: OffloadFacts) => OffloadFacts;
  want?: Wanted;
  code: number;
  msg: string;
  details: string;
}

const CASES: Case[] = [
  {
    name: 'the eSwitch in legacy mode',
    facts: (f) => ({ ...f, uplink: undefined, netdev: undefined, eswitch: { mode: 'legacy', source: 'devlink' }, representor: undefined, hwTc: { state: 'unverified', source: 'no uplink' } }),
    code: 103,
    msg: `the eSwitch of PF ${PF} is in legacy mode, not switchdev`,
    details: `VF ${VF} cannot be offloaded (mode read from devlink). Fix: ${SWITCHDEV_FIX}`,
  },
  {
    name: 'switchdev without an uplink port',
    facts: (f) => ({ ...f, uplink: undefined, netdev: undefined, netdevs: ['enp66s0f0r0'], hwTc: { state: 'unverified', source: 'no uplink' } }),
    code: 103,
    msg: `PF ${PF} has no uplink port (phys_port_name p<N> with a phys_switch_id)`,
    details: `netdevs of ${PF}: [enp66s0f0r0]; the eSwitch reports switchdev (devlink) but no uplink representor exists. Fix: ${SWITCHDEV_FIX}`,
  },
  {
    name: 'hw-tc-offload off',
    facts: (f) => ({ ...f, hwTc: { state: 'off', source: 'ethtool' } }),
    code: 104,
    msg: `hw-tc-offload is off on uplink ${UPLINK}`,
    details: `PF ${PF}, VF ${VF}: TC flower rules cannot reach the NIC. Fix: \`ethtool -K ${UPLINK} hw-tc-offload on\``,
  },
  {
    name: 'hw-tc-offload not supported (fixed off)',
    facts: (f) => ({ ...f, hwTc: { state: 'unsupported', source: 'ethtool' } }),
    code: 104,
    msg: `hw-tc-offload is not supported on uplink ${UPLINK}`,
    details: `\`ethtool -k ${UPLINK}\` shows hw-tc-offload off [fixed]: this NIC, driver or firmware cannot offload TC flows; use a ConnectX-5 or newer with mlx5_core in switchdev mode`,
  },
  {
    name: 'no representor, devlink having answered',
    facts: (f) => ({ ...f, representor: undefined }),
    code: 105,
    msg: `no representor found for VF 0 (${VF}) of PF ${PF}`,
    details: `neither devlink (no pcivf port with vfnum 0) nor a netdev of ${PF} with phys_port_name pf0vf0 names it; representors appear after the VFs are bound to mlx5_core in switchdev mode (\`echo ${VF} > /sys/bus/pci/drivers/mlx5_core/bind\`)`,
  },
  {
    name: 'no representor, devlink not installed',
    facts: (f) => ({ ...f, representor: undefined, devlinkWhy: 'devlink is not installed' }),
    code: 105,
    msg: `no representor found for VF 0 (${VF}) of PF ${PF}`,
    details: `neither devlink (devlink is not installed) nor a netdev of ${PF} with phys_port_name pf0vf0 names it; representors appear after the VFs are bound to mlx5_core in switchdev mode (\`echo ${VF} > /sys/bus/pci/drivers/mlx5_core/bind\`)`,
  },
  {
    name: 'the uplink in a bond',
    facts: (f) => ({ ...f, bond: 'bond0' }),
    code: 106,
    msg: `uplink ${UPLINK} of PF ${PF} is enslaved to bond bond0`,
    details: `Mellanox offload here needs a PF outside a bond (the seed's prerequisite). Fix: \`ip link set ${UPLINK} nomaster\`, or set "offload": {"allow_bond": true} for a VF-LAG set-up`,
  },
  {
    name: 'OVS hw-offload unset',
    facts: (f) => ({ ...f, ovsHwOffload: { state: 'not true', detail: 'unset' } }),
    code: 107,
    msg: 'OVS other_config:hw-offload is unset, not true',
    details: 'flows stay in the kernel datapath. Fix: `ovs-vsctl set Open_vSwitch . other_config:hw-offload=true` and restart ovs-vswitchd (kube-ovn: HW_OFFLOAD=true, then restart the ovs-ovn pod on this node)',
  },
  {
    name: 'vf_driver vfio-pci, the VF on mlx5_core',
    facts: (f) => f,
    want: { vfDriver: 'vfio-pci', vfInHost: true },
    code: 108,
    msg: `VF ${VF} is bound to mlx5_core, but vf_driver is vfio-pci`,
    details: `Fix: \`echo ${VF} > /sys/bus/pci/drivers/mlx5_core/unbind\` and bind it to vfio-pci, or remove "vf_driver" from the NetworkAttachmentDefinition`,
  },
  {
    name: 'vf_driver vfio-pci, the VF unbound',
    facts: (f) => ({ ...f, vf: { ...f.vf, driver: '', netdevs: [] } }),
    want: { vfDriver: 'vfio-pci', vfInHost: true },
    code: 108,
    msg: `VF ${VF} is bound to no driver, but vf_driver is vfio-pci`,
    details: `Fix: \`echo ${VF} > /sys/bus/pci/drivers/<driver>/unbind\` and bind it to vfio-pci, or remove "vf_driver" from the NetworkAttachmentDefinition`,
  },
  {
    name: 'the VF on vfio-pci, vf_driver not set',
    facts: (f) => ({ ...f, vf: { ...f.vf, driver: 'vfio-pci', netdevs: [] } }),
    code: 108,
    msg: `VF ${VF} is bound to vfio-pci, but vf_driver is not set`,
    details: `Fix: set "vf_driver": "vfio-pci" in the NetworkAttachmentDefinition for VM/DPDK pods, or rebind the VF to mlx5_core (\`echo ${VF} > /sys/bus/pci/drivers/vfio-pci/unbind; echo ${VF} > /sys/bus/pci/drivers/mlx5_core/bind\`)`,
  },
  {
    name: 'the VF without a netdev (ADD)',
    facts: (f) => ({ ...f, vf: { ...f.vf, driver: '', netdevs: [] } }),
    code: 108,
    msg: `VF ${VF} has no network device`,
    details: `driver (none); netdevs []. A VF already in another pod's netns is not visible here; otherwise bind it: \`echo ${VF} > /sys/bus/pci/drivers/mlx5_core/bind\``,
  },
  {
    name: 'the VF with two netdevs (ADD)',
    facts: (f) => ({ ...f, vf: { ...f.vf, netdevs: ['eth1', 'eth2'] } }),
    code: 108,
    msg: `VF ${VF} has 2 network devices, expected one`,
    details: `driver mlx5_core; netdevs [eth1, eth2]. A VF already in another pod's netns is not visible here; otherwise bind it: \`echo ${VF} > /sys/bus/pci/drivers/mlx5_core/bind\``,
  },
];

describe('judge: one failure per prerequisite', () => {
  it.each(CASES)('$code: $name', ({ facts, want, code, msg, details }) => {
    const { failures, warnings } = judge(facts(ready()), want ?? ADD);
    expect(failures.map((f) => ({ code: f.code, msg: f.message, details: f.details }))).toEqual([{ code, msg, details }]);
    expect(warnings).toEqual([]);
  });

  it('passes a node set up as the guide says: no failure, no warning', () => {
    expect(judge(ready(), ADD)).toEqual({ failures: [], warnings: [] });
  });

  it('covers every code a catalogue entry can refuse with', () => {
    const codes = new Set(CHECKS.flatMap((c) => (c.code === 'warning' ? [] : [c.code])));
    expect([...codes].sort()).toEqual([...new Set(CASES.map((c) => c.code))].sort());
  });
});

describe('judge: what it cannot verify is a warning, and the pod goes on', () => {
  it('hw-tc-offload unverified when ethtool is missing', () => {
    const { failures, warnings } = judge({ ...ready(), hwTc: { state: 'unverified', source: 'ethtool is not installed' } }, ADD);
    expect(failures).toEqual([]);
    expect(warnings).toEqual([`hw-tc-offload on ${UPLINK} is unverified: ethtool is not installed`]);
  });

  it('OVS hw-offload unverified when OVSDB does not answer', () => {
    const { failures, warnings } = judge({ ...ready(), ovsHwOffload: { state: 'unverified', detail: 'connect ENOENT /run/openvswitch/db.sock' } }, ADD);
    expect(failures).toEqual([]);
    expect(warnings).toEqual(['OVS other_config:hw-offload is unverified: OVSDB not reachable (connect ENOENT /run/openvswitch/db.sock)']);
  });

  it('says nothing of OVS under offload.check_ovs false', () => {
    expect(judge({ ...ready(), ovsHwOffload: { state: 'not checked', detail: 'offload.check_ovs is false' } }, ADD)).toEqual({ failures: [], warnings: [] });
  });
});

describe('judge: what passes', () => {
  it('CHECK and STATUS do not ask for a netdev: the VF may be in the pod', () => {
    const facts = { ...ready(), vf: { ...ready().vf, netdevs: [] } };
    expect(judge(facts, { vfDriver: '', vfInHost: false }).failures).toEqual([]);
  });

  it('a VF on vfio-pci when vf_driver asks for it', () => {
    const facts = { ...ready(), vf: { ...ready().vf, driver: 'vfio-pci', netdevs: [] } };
    expect(judge(facts, { vfDriver: 'vfio-pci', vfInHost: true }).failures).toEqual([]);
  });

  it('a bond that was not looked for (offload.allow_bond) is no failure', () => {
    expect(judge({ ...ready(), bond: undefined }, ADD).failures).toEqual([]);
  });
});

describe('judge: several failures, most basic first', () => {
  it('legacy mode, hw-tc off, a bond, OVS off and a vfio-pci VF: 103, 104, 106, 107, 108 in that order', () => {
    const facts: OffloadFacts = {
      ...ready(),
      eswitch: { mode: 'legacy', source: 'devlink' },
      hwTc: { state: 'off', source: 'ethtool' },
      bond: 'bond0',
      representor: undefined,
      ovsHwOffload: { state: 'not true', detail: '"false"' },
      vf: { ...ready().vf, driver: 'vfio-pci', netdevs: [] },
    };
    expect(judge(facts, ADD).failures.map((f) => f.code)).toEqual([103, 104, 106, 107, 108]);
  });

  it('switchdev without an uplink and without a representor: 103, then 105', () => {
    const facts: OffloadFacts = { ...ready(), uplink: undefined, netdev: undefined, representor: undefined, hwTc: { state: 'unverified', source: 'no uplink' } };
    expect(judge(facts, ADD)).toMatchObject({ failures: [{ code: 103 }, { code: 105 }], warnings: [] });
  });

  it('both warnings, hw-tc-offload first', () => {
    const facts: OffloadFacts = { ...ready(), hwTc: { state: 'unverified', source: 'ethtool is not installed' }, ovsHwOffload: { state: 'unverified', detail: 'x' } };
    expect(judge(facts, ADD).warnings.map((w) => w.split(' ')[0])).toEqual(['hw-tc-offload', 'OVS']);
  });
});

describe('the catalogue', () => {
  it('names each case once', () => {
    const ids = CHECKS.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('gives every failure a fix, and quotes it in the details', () => {
    const f = { ...ready(), bond: 'bond0', want: ADD };
    for (const c of CHECKS) {
      if (c.code === 'warning') continue;
      expect(c.fix, c.id).toBeDefined();
      expect(c.details!(f), c.id).toContain(c.fix!(f));
    }
  });
});
