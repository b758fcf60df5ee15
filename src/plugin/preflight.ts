import { preview } from '../cni/preview.js';
import type { Config } from '../cni/config.js';
import { CniError, Code } from '../cni/errors.js';
import { devlinkPorts, eswitchMode } from '../node/devlink.js';
import { eswitchModeOf, type EswitchMode } from '../node/eswitch.js';
import { hwTcOffload, type HwTcOffload } from '../node/features.js';
import { findRepresentor, type Representor } from '../node/representor.js';
import type { Sysfs } from '../node/sysfs.js';
import type { RunTool } from '../node/tools.js';
import { findUplink, pfNumber } from '../node/uplink.js';
import { bondOf } from '../node/bond.js';
import type { Ovsdb } from '../node/ovsdb.js';
import { resolveVf, type Vf } from '../node/vf.js';

export interface NodeDeps {
  sysfs: Sysfs;
  run: RunTool;
  ovsdb: Ovsdb;
}

export interface OffloadFacts {
  vf: Vf;
  uplink?: string;
  eswitch: EswitchMode;
  hwTc: { state: HwTcOffload | 'unverified'; source: string };
  representor?: Representor;
  bond?: string;
  ovsHwOffload: { state: 'true' | 'not true' | 'unverified' | 'not checked'; detail: string };
}

export interface PreflightReport {
  facts: OffloadFacts;
  /** Offload prerequisites that do not hold, most basic first. */
  failures: CniError[];
  /** Things that could not be verified; the pod proceeds. */
  warnings: string[];
}

/**
 * Resolves VF → PF → uplink → representor and checks the offload prerequisites. A deviceID
 * that is not a VF here throws (102); prerequisites come back as failures, so the caller
 * decides between refusing (offload.enforce) and warning.
 */
export async function preflight(deps: NodeDeps, pci: string, conf: Pick<Config, 'vfDriver' | 'offload'>, opts: { vfInHost: boolean }): Promise<PreflightReport> {
  const { sysfs, run } = deps;
  const vf = await resolveVf(sysfs, pci);
  if (opts.vfInHost) refuseIfVfElsewhere(vf, conf.vfDriver);
  // The tool calls and the OVSDB query are independent: run them side by side, each started
  // as soon as what it needs is known (devlink and OVSDB while the uplink is looked for).
  const early = Promise.all([
    eswitchMode(run, vf.pf),
    devlinkPorts(run),
    conf.offload.checkOvs ? deps.ovsdb.hwOffload() : undefined,
  ]);
  early.catch(() => undefined); // awaited below; a failure meanwhile must not go unhandled
  const netdevs = await findUplink(sysfs, vf.pf);
  const [[modeAnswer, ports, ovs], hwTcAnswer, bond] = await Promise.all([
    early,
    netdevs.uplink ? hwTcOffload(run, netdevs.uplink) : undefined,
    netdevs.uplink && !conf.offload.allowBond ? bondOf(sysfs, netdevs.uplink) : undefined,
  ]);
  const eswitch = await eswitchModeOf(sysfs, modeAnswer, netdevs);
  const representor = await findRepresentor(sysfs, ports, vf.pf, vf.index);
  const hwTc = !hwTcAnswer ? { state: 'unverified' as const, source: 'no uplink' }
    : hwTcAnswer.value === undefined ? { state: 'unverified' as const, source: hwTcAnswer.why }
    : { state: hwTcAnswer.value, source: hwTcAnswer.source };

  const ovsHwOffload: OffloadFacts['ovsHwOffload'] = !ovs ? { state: 'not checked', detail: 'offload.check_ovs is false' }
    : !ovs.reachable ? { state: 'unverified', detail: ovs.why }
    : ovs.value === 'true' ? { state: 'true', detail: 'OVSDB' }
    : { state: 'not true', detail: ovs.value === undefined ? 'unset' : preview(ovs.value, 80) };
  const facts: OffloadFacts = { vf, uplink: netdevs.uplink, eswitch, hwTc, representor, bond, ovsHwOffload };
  const failures: CniError[] = [];
  const warnings: string[] = [];
  const switchdevFix = `unbind the PF's VFs from mlx5_core, run \`devlink dev eswitch set pci/${vf.pf} mode switchdev\`, then rebind the VFs`;

  if (eswitch.mode !== 'switchdev') {
    failures.push(new CniError(Code.NotSwitchdev, `the eSwitch of PF ${vf.pf} is in ${eswitch.mode} mode, not switchdev`, `VF ${pci} cannot be offloaded (mode read from ${eswitch.source}). Fix: ${switchdevFix}`));
  } else if (!netdevs.uplink) {
    failures.push(new CniError(Code.NotSwitchdev, `PF ${vf.pf} has no uplink port (phys_port_name p<N> with a phys_switch_id)`, `netdevs of ${vf.pf}: [${netdevs.all.join(', ')}]; the eSwitch reports switchdev (${eswitch.source}) but no uplink representor exists. Fix: ${switchdevFix}`));
  }
  if (netdevs.uplink) {
    if (hwTc.state === 'off') {
      failures.push(new CniError(Code.HwTcOffload, `hw-tc-offload is off on uplink ${netdevs.uplink}`, `PF ${vf.pf}, VF ${pci}: TC flower rules cannot reach the NIC. Fix: \`ethtool -K ${netdevs.uplink} hw-tc-offload on\``));
    } else if (hwTc.state === 'unsupported') {
      failures.push(new CniError(Code.HwTcOffload, `hw-tc-offload is not supported on uplink ${netdevs.uplink}`, `\`ethtool -k ${netdevs.uplink}\` shows hw-tc-offload off [fixed]: this NIC, driver or firmware cannot offload TC flows; use a ConnectX-5 or newer with mlx5_core in switchdev mode`));
    } else if (hwTc.state === 'unverified') {
      warnings.push(`hw-tc-offload on ${netdevs.uplink} is unverified: ${hwTc.source}`);
    }
  }
  if (bond && netdevs.uplink) {
    failures.push(new CniError(Code.PfInBond, `uplink ${netdevs.uplink} of PF ${vf.pf} is enslaved to bond ${bond}`, `Mellanox offload here needs a PF outside a bond (the seed's prerequisite). Fix: \`ip link set ${netdevs.uplink} nomaster\`, or set "offload": {"allow_bond": true} for a VF-LAG set-up`));
  }
  if (eswitch.mode === 'switchdev' && !representor) {
    failures.push(new CniError(Code.NoRepresentor, `no representor found for VF ${vf.index} (${pci}) of PF ${vf.pf}`, `neither devlink (${'why' in ports ? ports.why : 'no pcivf port with vfnum ' + vf.index}) nor a netdev of ${vf.pf} with phys_port_name pf${pfNumber(vf.pf)}vf${vf.index} names it; representors appear after the VFs are bound to mlx5_core in switchdev mode (\`echo ${pci} > /sys/bus/pci/drivers/mlx5_core/bind\`)`));
  }
  if (ovsHwOffload.state === 'not true') {
    failures.push(new CniError(Code.OvsHwOffload, `OVS other_config:hw-offload is ${ovsHwOffload.detail}, not true`, 'flows stay in the kernel datapath. Fix: `ovs-vsctl set Open_vSwitch . other_config:hw-offload=true` and restart ovs-vswitchd (kube-ovn: HW_OFFLOAD=true, then restart the ovs-ovn pod on this node)'));
  } else if (ovsHwOffload.state === 'unverified') {
    warnings.push(`OVS other_config:hw-offload is unverified: OVSDB not reachable (${ovsHwOffload.detail})`);
  }
  const driverFailure = checkVfDriver(vf, conf.vfDriver, opts.vfInHost);
  if (driverFailure) failures.push(driverFailure);
  return { facts, failures, warnings };
}

const USERSPACE_DRIVERS = new Set(['vfio-pci', 'uio_pci_generic', 'igb_uio']);

/**
 * A VF bound to a kernel driver always has a netdev; sysfs shows it only in the netns that
 * holds it. None here means it is still inside a previous pod's netns: kube-ovn's DEL renames
 * it back but leaves it there until the runtime destroys that netns (kube-ovn#3437). That
 * passes: try again (11), not a driver problem (108).
 */
function refuseIfVfElsewhere(vf: Vf, vfDriver: string): void {
  if (vfDriver === 'vfio-pci' || !vf.driver || USERSPACE_DRIVERS.has(vf.driver) || vf.netdevs.length > 0) return;
  throw new CniError(Code.TryAgainLater, `VF ${vf.pci} has no network device in the host netns: it is still inside a previous pod's netns`, `driver ${vf.driver} is bound, so the VF's netdev lives in another network namespace; kube-ovn's DEL leaves it there until the runtime destroys that pod's netns, and the kubelet retries. If it does not clear, find the netns holding it: for ns in $(ip netns list | cut -d' ' -f1); do ip -n "$ns" -br link | sed "s/^/$ns /"; done`);
}

/** The VF must be bound as vf_driver says: vfio-pci only when asked, else one kernel netdev. */
function checkVfDriver(vf: Vf, vfDriver: string, vfInHost: boolean): CniError | undefined {
  if (vfDriver === 'vfio-pci') {
    return vf.driver === 'vfio-pci' ? undefined
      : new CniError(Code.VfDriver, `VF ${vf.pci} is bound to ${vf.driver || 'no driver'}, but vf_driver is vfio-pci`, `Fix: \`echo ${vf.pci} > /sys/bus/pci/drivers/${vf.driver || '<driver>'}/unbind\` and bind it to vfio-pci, or remove "vf_driver" from the NetworkAttachmentDefinition`);
  }
  if (USERSPACE_DRIVERS.has(vf.driver)) {
    return new CniError(Code.VfDriver, `VF ${vf.pci} is bound to ${vf.driver}, but vf_driver is not set`, `Fix: set "vf_driver": "vfio-pci" in the NetworkAttachmentDefinition for VM/DPDK pods, or rebind the VF to mlx5_core (\`echo ${vf.pci} > /sys/bus/pci/drivers/${vf.driver}/unbind; echo ${vf.pci} > /sys/bus/pci/drivers/mlx5_core/bind\`)`);
  }
  if (vfInHost && vf.netdevs.length !== 1) {
    return new CniError(Code.VfDriver, vf.netdevs.length === 0 ? `VF ${vf.pci} has no network device` : `VF ${vf.pci} has ${vf.netdevs.length} network devices, expected one`, `driver ${vf.driver || '(none)'}; netdevs [${vf.netdevs.join(', ')}]. A VF already in another pod's netns is not visible here; otherwise bind it: \`echo ${vf.pci} > /sys/bus/pci/drivers/mlx5_core/bind\``);
  }
  return undefined;
}
