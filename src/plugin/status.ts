import { CniError, Code } from '../cni/errors.js';
import { daemonListening } from '../kubeovn/client.js';
import type { Config } from '../cni/config.js';

/** STATUS (CNI 1.1.0): ready when the kube-ovn daemon's socket accepts connections. */
export async function cmdStatus(conf: Config): Promise<void> {
  const r = await daemonListening(conf.serverSocket, 2000);
  if (!r.ok) {
    throw new CniError(Code.PluginNotAvailable, `kube-ovn daemon is not reachable at ${conf.serverSocket}: ${r.why}`, 'Is the kube-ovn-cni pod running on this node? (kubectl -n kube-system get pods -l app=kube-ovn-cni -o wide)');
  }
}
