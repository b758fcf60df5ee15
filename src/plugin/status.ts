import { CniError, Code } from '../cni/errors.js';
import { daemonListening } from '../kubeovn/client.js';
import { mellanoxPfs } from '../node/inventory.js';
import type { Context } from './context.js';
import { preflight } from './preflight.js';

// What STATUS judges: the node-wide prerequisites, not one VF's representor or driver.
const NODE_WIDE = new Set<number>([Code.NotSwitchdev, Code.HwTcOffloadOff, Code.PfInBond, Code.OvsHwOffloadOff]);

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
  for (const pf of await mellanoxPfs(node.sysfs)) {
    const vf0 = pf.vfs[0];
    if (pf.numVfs <= 0 || !vf0) continue;
    try {
      const report = await preflight(node, vf0.pci, { ...conf, vfDriver: '' }, { vfInHost: false });
      for (const f of report.failures.filter((f) => NODE_WIDE.has(f.code))) problems.push(`PF ${pf.pci}: ${f.message} (${f.code})`);
    } catch (err) {
      // STATUS answers 50 or 51 only: a check that cannot run is a degraded node.
      problems.push(`PF ${pf.pci}: cannot be checked: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new CniError(Code.LimitedConnectivity, `offload is degraded on this node: ${problems[0]}`, problems.join('; '));
  }
}
