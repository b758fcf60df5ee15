import { preview } from '../cni/preview.js';
import type { Config } from '../cni/config.js';
import { CniError, Code } from '../cni/errors.js';
import { judge, USERSPACE_DRIVERS, type Judgement, type OffloadFacts } from './checks.js';
import { devlinkPorts, devlinkEswitchMode } from '../node/devlink.js';
import { eswitchModeOf } from '../node/eswitch.js';
import { ethtoolHwTcOffload } from '../node/features.js';
import { findRepresentor } from '../node/representor.js';
import type { Sysfs } from '../node/sysfs.js';
import type { RunTool } from '../node/tools.js';
import { findUplink } from '../node/uplink.js';
import { bondOf } from '../node/bond.js';
import type { Ovsdb } from '../node/ovsdb.js';
import { resolveVf, type Vf } from '../node/vf.js';

export interface NodeDeps {
  sysfs: Sysfs;
  run: RunTool;
  ovsdb: Ovsdb;
}

export type { OffloadFacts } from './checks.js';

export interface PreflightReport extends Judgement {
  facts: OffloadFacts;
}

/**
 * Resolves VF → PF → uplink → representor, gathers the facts the offload checks need (all the
 * I/O), and judges them against the catalogue (checks.ts). A deviceID that is not a VF here
 * throws (102); prerequisites come back as failures, so the caller decides between refusing
 * (offload.enforce) and warning.
 */
export async function preflight(deps: NodeDeps, pci: string, conf: Pick<Config, 'vfDriver' | 'offload'>, opts: { vfInHost: boolean }): Promise<PreflightReport> {
  const { sysfs, run } = deps;
  const vf = await resolveVf(sysfs, pci);
  if (opts.vfInHost) refuseIfVfElsewhere(vf, conf.vfDriver);
  // The tool calls and the OVSDB query are independent: run them side by side, each started
  // as soon as what it needs is known (devlink and OVSDB while the uplink is looked for).
  const early = Promise.all([
    devlinkEswitchMode(run, vf.pf),
    devlinkPorts(run),
    conf.offload.checkOvs ? deps.ovsdb.hwOffload() : undefined,
  ]);
  early.catch(() => undefined); // awaited below; a failure meanwhile must not go unhandled
  const netdevs = await findUplink(sysfs, vf.pf);
  const [[modeAnswer, ports, ovs], hwTcAnswer, bond] = await Promise.all([
    early,
    netdevs.uplink ? ethtoolHwTcOffload(run, netdevs.uplink) : undefined,
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
  const facts: OffloadFacts = {
    vf, pf: vf.pf, uplink: netdevs.uplink, netdevs: netdevs.all, netdev: netdevs.uplink,
    eswitch, hwTc, representor, bond, ovsHwOffload, ...('why' in ports ? { devlinkWhy: ports.why } : {}),
  };
  return { facts, ...judge(facts, { vfDriver: conf.vfDriver, vfInHost: opts.vfInHost }) };
}

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
