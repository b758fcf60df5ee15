import { CniError, Code } from '../cni/errors.js';
import { daemonListening } from '../kubeovn/client.js';
import { isPciAddress } from '../node/pci.js';
import type { Context } from './context.js';
import { preflight } from './preflight.js';

const MELLANOX = '0x15b3';
// What STATUS judges: the node-wide prerequisites, not one VF's representor or driver.
const NODE_WIDE = new Set<number>([Code.NotSwitchdev, Code.HwTcOffload, Code.PfInBond, Code.OvsHwOffload]);

/**
 * STATUS (CNI 1.1.0): 50 when the kube-ovn daemon's socket does not accept connections;
 * 51 when a Mellanox PF with VFs on this node is not offload-ready (checked through its
 * first VF, with the same checks as ADD); ready otherwise.
 */
export async function cmdStatus(ctx: Context): Promise<void> {
  const { conf, node } = ctx;
  const r = await daemonListening(conf.serverSocket, 2000);
  if (!r.ok) {
    throw new CniError(Code.PluginNotAvailable, `kube-ovn daemon is not reachable at ${conf.serverSocket}: ${r.why}`, 'Is the kube-ovn-cni pod running on this node? (kubectl -n kube-system get pods -l app=kube-ovn-cni -o wide)');
  }
  const problems: string[] = [];
  for (const pf of await node.sysfs.list(node.sysfs.path('bus', 'pci', 'devices'))) {
    if (!isPciAddress(pf) || (await node.sysfs.read(node.sysfs.pciDevice(pf, 'vendor'))) !== MELLANOX) continue;
    if (Number(await node.sysfs.read(node.sysfs.pciDevice(pf, 'sriov_numvfs')) ?? 0) <= 0) continue;
    const vf0 = await node.sysfs.linkName(node.sysfs.pciDevice(pf, 'virtfn0'));
    if (!vf0 || !isPciAddress(vf0)) continue;
    const report = await preflight(node, vf0, { ...conf, vfDriver: '' }, { vfInHost: false });
    for (const f of report.failures.filter((f) => NODE_WIDE.has(f.code))) problems.push(`PF ${pf}: ${f.message} (${f.code})`);
  }
  if (problems.length > 0) {
    throw new CniError(Code.LimitedConnectivity, `offload is degraded on this node: ${problems[0]}`, problems.join('; '));
  }
}
