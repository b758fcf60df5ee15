import { CniError, type CodeValue } from '../cni/errors.js';
import type { EswitchMode } from '../node/eswitch.js';
import type { HwTcOffload } from '../node/features.js';
import type { Representor } from '../node/representor.js';
import { pfNumber } from '../node/uplink.js';
import type { Vf } from '../node/vf.js';

/**
 * The catalogue of offload checks: every prerequisite once, with its code, its words and its
 * fix. ADD, CHECK and STATUS judge one VF with it (judge, below); doctor renders the PF- and
 * node-wide entries as its lines. Only facts come in: the probes that gather them live in
 * src/node/ and are called by preflight.ts and doctor.ts.
 */

/** Node-wide facts: one answer for every PF. */
export interface NodeFacts {
  ovsHwOffload: { state: 'true' | 'not true' | 'unverified' | 'not checked'; detail: string };
}

/** Facts of one PF. */
export interface PfFacts {
  pf: string;
  /** The uplink: phys_port_name p<N> with a phys_switch_id; none in legacy mode. */
  uplink?: string;
  /** Every netdev of the PF's PCI device, representors included. */
  netdevs: string[];
  /**
   * The netdev whose hw-tc-offload and bond were read: the uplink for a pod; doctor, looking
   * at a PF in legacy mode too, falls back to the PF's netdev. None: they were not read.
   */
  netdev?: string;
  eswitch: EswitchMode;
  hwTc: { state: HwTcOffload | 'unverified'; source: string };
  /** The bond the netdev is enslaved to; not looked for under offload.allow_bond. */
  bond?: string;
}

/** Facts of one VF, with its PF's. */
export interface VfFacts extends PfFacts {
  vf: Vf;
  representor?: Representor;
  /** Why devlink could not list its ports, when it could not. */
  devlinkWhy?: string;
}

/** Everything preflight gathers about one VF. */
export type OffloadFacts = NodeFacts & VfFacts;

/** What the pod asks of its VF, and where the VF should be. */
export interface Wanted {
  /** vf_driver of the NetworkAttachmentDefinition: "vfio-pci", or "" for a kernel netdev. */
  vfDriver: string;
  /** ADD: the VF's netdev is still in the host netns. CHECK and STATUS: it may be in a pod's. */
  vfInHost: boolean;
}

/** A VF judged for one pod: its facts and what the pod wants of it. */
export interface Judged extends OffloadFacts {
  want: Wanted;
}

/** The doctor line an entry decides: doctor says PASS when none of the line's entries applies. */
export type Line = 'switchdev' | 'hw-tc-offload' | 'bond' | 'representors' | 'ovs-hw-offload' | 'vf-driver';

export interface Rules<F> {
  /** Unique name of the case: "switchdev-legacy", "hw-tc-offload-off", …. */
  id: string;
  line: Line;
  /** The CNI error code of a failure; "warning" for what could not be verified (the pod goes on). */
  code: CodeValue | 'warning';
  /** True when the check fails (or, for a warning, when the warning is due). */
  applies(f: F): boolean;
  /** The CniError's msg, or the warning's text: the cause, naming the device. */
  message(f: F): string;
  /** The CniError's details, about the one VF being judged: the context and, in it, fix(). Failures only. */
  details?(f: Judged): string;
  /** The command or step that fixes it; commands in backticks. */
  fix?(f: F): string;
  /** doctor's short words for the line when this entry applies. */
  detail(f: F): string;
}

/**
 * Entries by the facts they read. doctor has node and PF facts, and VFs without a pod: it
 * renders node, pf and vf entries; pod entries need a NetworkAttachmentDefinition's vf_driver.
 */
export type Entry =
  | ({ scope: 'node' } & Rules<NodeFacts>)
  | ({ scope: 'pf' } & Rules<PfFacts>)
  | ({ scope: 'vf' } & Rules<VfFacts>)
  | ({ scope: 'pod' } & Rules<VfFacts & { want: Wanted }>);

/** Drivers that leave a VF without a netdev, for a VM or a DPDK application. */
export const USERSPACE_DRIVERS = new Set(['vfio-pci', 'uio_pci_generic', 'igb_uio']);

export const switchdevFix = (f: PfFacts) => `unbind the PF's VFs from mlx5_core, run \`devlink dev eswitch set pci/${f.pf} mode switchdev\`, then rebind the VFs`;
const hwTcFix = (f: PfFacts) => `\`ethtool -K ${f.netdev} hw-tc-offload on\``;
const bondFix = (f: PfFacts) => `\`ip link set ${f.netdev} nomaster\`, or set "offload": {"allow_bond": true} for a VF-LAG set-up`;
const bindFix = (f: VfFacts) => `\`echo ${f.vf.pci} > /sys/bus/pci/drivers/mlx5_core/bind\``;
const newerNic = 'use a ConnectX-5 or newer with mlx5_core in switchdev mode';
const ovsFix = '`ovs-vsctl set Open_vSwitch . other_config:hw-offload=true` and restart ovs-vswitchd (kube-ovn: HW_OFFLOAD=true, then restart the ovs-ovn pod on this node)';

/** In the order failures are reported: the most basic first, the first one the refusal's cause. */
export const CHECKS: readonly Entry[] = [
  {
    scope: 'pf', id: 'switchdev-legacy', line: 'switchdev', code: 103,
    applies: (f) => f.eswitch.mode !== 'switchdev',
    message: (f) => `the eSwitch of PF ${f.pf} is in ${f.eswitch.mode} mode, not switchdev`,
    details: (f) => `VF ${f.vf.pci} cannot be offloaded (mode read from ${f.eswitch.source}). Fix: ${switchdevFix(f)}`,
    fix: switchdevFix,
    detail: (f) => `eSwitch in ${f.eswitch.mode} mode (${f.eswitch.source})`,
  },
  {
    scope: 'pf', id: 'switchdev-no-uplink', line: 'switchdev', code: 103,
    applies: (f) => f.eswitch.mode === 'switchdev' && !f.uplink,
    message: (f) => `PF ${f.pf} has no uplink port (phys_port_name p<N> with a phys_switch_id)`,
    details: (f) => `netdevs of ${f.pf}: [${f.netdevs.join(', ')}]; the eSwitch reports switchdev (${f.eswitch.source}) but no uplink representor exists. Fix: ${switchdevFix(f)}`,
    fix: switchdevFix,
    detail: (f) => `switchdev (${f.eswitch.source}), but no netdev of [${f.netdevs.join(', ')}] is an uplink port`,
  },
  {
    scope: 'pf', id: 'hw-tc-offload-off', line: 'hw-tc-offload', code: 104,
    applies: (f) => f.netdev !== undefined && f.hwTc.state === 'off',
    message: (f) => `hw-tc-offload is off on uplink ${f.netdev}`,
    details: (f) => `PF ${f.pf}, VF ${f.vf.pci}: TC flower rules cannot reach the NIC. Fix: ${hwTcFix(f)}`,
    fix: hwTcFix,
    detail: (f) => `off on ${f.netdev}`,
  },
  {
    scope: 'pf', id: 'hw-tc-offload-unsupported', line: 'hw-tc-offload', code: 104,
    applies: (f) => f.netdev !== undefined && f.hwTc.state === 'unsupported',
    message: (f) => `hw-tc-offload is not supported on uplink ${f.netdev}`,
    details: (f) => `\`ethtool -k ${f.netdev}\` shows hw-tc-offload off [fixed]: this NIC, driver or firmware cannot offload TC flows; ${newerNic}`,
    fix: () => newerNic,
    detail: (f) => `not supported on ${f.netdev} (fixed off)`,
  },
  {
    scope: 'pf', id: 'hw-tc-offload-unverified', line: 'hw-tc-offload', code: 'warning',
    applies: (f) => f.netdev !== undefined && f.hwTc.state === 'unverified',
    message: (f) => `hw-tc-offload on ${f.netdev} is unverified: ${f.hwTc.source}`,
    detail: (f) => `unverified on ${f.netdev}: ${f.hwTc.source}`,
  },
  {
    scope: 'pf', id: 'bond', line: 'bond', code: 106,
    applies: (f) => f.bond !== undefined && f.netdev !== undefined,
    message: (f) => `uplink ${f.netdev} of PF ${f.pf} is enslaved to bond ${f.bond}`,
    details: (f) => `Mellanox offload here needs a PF outside a bond (the seed's prerequisite). Fix: ${bondFix(f)}`,
    fix: bondFix,
    detail: (f) => `${f.netdev} is enslaved to bond ${f.bond}`,
  },
  {
    scope: 'vf', id: 'representor', line: 'representors', code: 105,
    applies: (f) => f.eswitch.mode === 'switchdev' && !f.representor,
    message: (f) => `no representor found for VF ${f.vf.index} (${f.vf.pci}) of PF ${f.pf}`,
    details: (f) => `neither devlink (${f.devlinkWhy ?? 'no pcivf port with vfnum ' + f.vf.index}) nor a netdev of ${f.pf} with phys_port_name pf${pfNumber(f.pf)}vf${f.vf.index} names it; representors appear after the VFs are bound to mlx5_core in switchdev mode (${bindFix(f)})`,
    fix: bindFix,
    detail: (f) => `VF ${f.vf.index} (${f.vf.pci})`,
  },
  {
    scope: 'node', id: 'ovs-hw-offload', line: 'ovs-hw-offload', code: 107,
    applies: (f) => f.ovsHwOffload.state === 'not true',
    message: (f) => `OVS other_config:hw-offload is ${f.ovsHwOffload.detail}, not true`,
    details: () => `flows stay in the kernel datapath. Fix: ${ovsFix}`,
    fix: () => ovsFix,
    detail: (f) => `other_config:hw-offload is ${f.ovsHwOffload.detail}`,
  },
  {
    scope: 'node', id: 'ovs-hw-offload-unverified', line: 'ovs-hw-offload', code: 'warning',
    applies: (f) => f.ovsHwOffload.state === 'unverified',
    message: (f) => `OVS other_config:hw-offload is unverified: OVSDB not reachable (${f.ovsHwOffload.detail})`,
    detail: (f) => `unverified: OVSDB not reachable (${f.ovsHwOffload.detail})`,
  },
  // The VF must be bound as vf_driver says: vfio-pci only when asked, else one kernel netdev.
  {
    scope: 'pod', id: 'vf-driver-not-vfio', line: 'vf-driver', code: 108,
    applies: (f) => f.want.vfDriver === 'vfio-pci' && f.vf.driver !== 'vfio-pci',
    message: (f) => `VF ${f.vf.pci} is bound to ${f.vf.driver || 'no driver'}, but vf_driver is vfio-pci`,
    details: (f) => `Fix: ${vfioFix(f)}`,
    fix: vfioFix,
    detail: (f) => `${f.vf.pci} on ${f.vf.driver || 'no driver'}, vf_driver vfio-pci`,
  },
  {
    scope: 'pod', id: 'vf-driver-userspace', line: 'vf-driver', code: 108,
    applies: (f) => f.want.vfDriver !== 'vfio-pci' && USERSPACE_DRIVERS.has(f.vf.driver),
    message: (f) => `VF ${f.vf.pci} is bound to ${f.vf.driver}, but vf_driver is not set`,
    details: (f) => `Fix: ${userspaceFix(f)}`,
    fix: userspaceFix,
    detail: (f) => `${f.vf.pci} on ${f.vf.driver}, vf_driver not set`,
  },
  {
    scope: 'pod', id: 'vf-driver-netdevs', line: 'vf-driver', code: 108,
    applies: (f) => f.want.vfDriver !== 'vfio-pci' && !USERSPACE_DRIVERS.has(f.vf.driver) && f.want.vfInHost && f.vf.netdevs.length !== 1,
    message: (f) => (f.vf.netdevs.length === 0 ? `VF ${f.vf.pci} has no network device` : `VF ${f.vf.pci} has ${f.vf.netdevs.length} network devices, expected one`),
    details: (f) => `driver ${f.vf.driver || '(none)'}; netdevs [${f.vf.netdevs.join(', ')}]. A VF already in another pod's netns is not visible here; otherwise bind it: ${bindFix(f)}`,
    fix: bindFix,
    detail: (f) => `${f.vf.pci} on ${f.vf.driver || 'no driver'} with netdevs [${f.vf.netdevs.join(', ')}]`,
  },
];

function vfioFix(f: VfFacts): string {
  return `\`echo ${f.vf.pci} > /sys/bus/pci/drivers/${f.vf.driver || '<driver>'}/unbind\` and bind it to vfio-pci, or remove "vf_driver" from the NetworkAttachmentDefinition`;
}

function userspaceFix(f: VfFacts): string {
  return `set "vf_driver": "vfio-pci" in the NetworkAttachmentDefinition for VM/DPDK pods, or rebind the VF to mlx5_core (\`echo ${f.vf.pci} > /sys/bus/pci/drivers/${f.vf.driver}/unbind; echo ${f.vf.pci} > /sys/bus/pci/drivers/mlx5_core/bind\`)`;
}

/** doctor's words for a line none of whose entries applies. */
export const PASSED = {
  switchdev: (f: PfFacts) => `switchdev (${f.eswitch.source})`,
  'hw-tc-offload': (f: PfFacts) => `on, on ${f.netdev}`,
  bond: (f: PfFacts) => (f.netdev ? `${f.netdev} is not in a bond` : 'no netdev'),
  'ovs-hw-offload': (_: NodeFacts) => 'other_config:hw-offload=true',
};

/** The entries of one scope that decide one line, in catalogue order. */
export function entriesOf<S extends Entry['scope']>(scope: S, line: Line): Array<Extract<Entry, { scope: S }>> {
  return CHECKS.filter((c): c is Extract<Entry, { scope: S }> => c.scope === scope && c.line === line);
}

export interface Judgement {
  /** Prerequisites that do not hold, most basic first. */
  failures: CniError[];
  /** Things that could not be verified; the pod proceeds. */
  warnings: string[];
}

/** Walks the catalogue over one VF's facts: no I/O, so each code can be pinned in-process. */
export function judge(facts: OffloadFacts, want: Wanted): Judgement {
  const failures: CniError[] = [];
  const warnings: string[] = [];
  const f: Judged = { ...facts, want };
  for (const c of CHECKS) {
    if (!c.applies(f)) continue;
    if (c.code === 'warning') warnings.push(c.message(f));
    else failures.push(new CniError(c.code, c.message(f), c.details?.(f) ?? ''));
  }
  return { failures, warnings };
}
