/**
 * One simulated node the benchmark runs pods on: the fake sysfs of a ConnectX-5 PF (SimNode),
 * the devlink/ethtool shell stand-ins (shell-tools.ts), the system's real `nsenter` and `ip`, a
 * state dir, and in shim mode the test suite's simulated kube-ovn daemon on a unix socket of its
 * own. Each VF the benchmark uses has a real netdev (one end of a veth pair) that is put into
 * the pod netns before ADD, where kube-ovn's daemon leaves it and where the plugin's DEL finds it
 * and brings it back to the host, as on a node. The daemon is not asked to plumb (`plumb` would
 * rename and move real links on every ADD); it changes the node's model, and `reset` puts the
 * model back after each DEL, outside what is timed.
 */
import { execa } from 'execa';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SimNode, connectx5 } from '../test/support/sim-node.js';
import { SimDaemon } from '../test/support/sim-daemon.js';
import { SimCluster } from '../test/support/sim-cluster.js';
import type { OvsdbServer } from '../test/support/ovsdb-server.js';
import { representorHostName } from '../src/kubeovn/naming.js';
import { shellTools } from './shell-tools.js';

export type Mode = 'guard' | 'shim';

export interface Site {
  name: string;
  mode: Mode;
  node: SimNode;
  stateDir: string;
  daemon?: SimDaemon;
  /** The network configuration on stdin for a pod on this VF. */
  conf(vf: string): string;
  /** The plugin's environment for one CNI call. */
  env(command: 'ADD' | 'DEL', containerId: string, pod: string, stateDir?: string): Record<string, string>;
  /** Puts the VFs' real netdevs into the pod netns, as kube-ovn's ADD leaves them (before a pair). */
  intoPod(vfs: string[]): Promise<void>;
  /** After a DEL: the VF's netdev is back in the host (the plugin moved it), the node's model as before the ADD. */
  reset(vf: string, containerId: string): Promise<void>;
  close(): Promise<void>;
}

export interface SiteOptions {
  name: string;
  mode: Mode;
  vfs: number;
  /** Netdev name prefix, unique on this machine (the VFs' netdevs are real). */
  prefix: string;
  /** VF indices that get a real netdev; the others exist in sysfs only. */
  real: number[];
  work: string;
  ovs: OvsdbServer;
  netns: string;
}

export async function openSite(o: SiteOptions): Promise<Site> {
  const dir = join(o.work, o.name);
  mkdirSync(dir, { recursive: true });
  const node = new SimNode({ pfs: [{ ...connectx5({ vfs: o.vfs, prefix: o.prefix }), totalVfs: Math.max(o.vfs, 8) }] });
  const made: string[] = [];
  let daemon: SimDaemon | undefined;
  const close = async () => {
    await daemon?.stop().catch(() => undefined);
    // A link in the pod netns goes with it; those in the host are removed here (the peer with it).
    if (made.length) await ipBatch(made.map((n) => `link del dev ${n}`), true);
    node.remove();
  };
  try {
    // Real nsenter and ip from the system; devlink and ethtool are the stand-ins.
    const tools = await shellTools(node, dir, { nsenter: false, path: 'system' });
    const stateDir = join(dir, 'state');
    const base = { ...tools, KUBE_OVN_OFFLOAD_STATE_DIR: stateDir };
    const pf = node.pf();
    const vfByPci = new Map(pf.vfs.map((v) => [v.pci, v]));
    const realVfs = o.real.map((i) => pf.vfs[i]!);
    await ipBatch(realVfs.map((v) => `link add ${v.netdev} type veth peer name ${o.prefix}p${v.index}`));
    made.push(...realVfs.map((v) => v.netdev!));
    if (o.mode === 'shim') {
      // ovn-controller binds at once: the daemon's time is what kube-ovn's own work costs here, no wait on top.
      daemon = await new SimDaemon({ socketPath: join(dir, 'kube-ovn-daemon.sock'), cluster: new SimCluster({ version: 'head', anyPod: {} }), node, ovs: o.ovs, bindMs: 0 }).start();
    }
    const socket = daemon?.opts.socketPath;
    return {
      name: o.name,
      mode: o.mode,
      node,
      stateDir,
      daemon,
      conf: (vf) => JSON.stringify({ cniVersion: '1.0.0', name: 'kube-ovn', type: 'kube-ovn-offload', mode: o.mode, ...(socket ? { server_socket: socket } : {}), ovsdb_socket: o.ovs.socket, deviceID: vf, log_level: 'error' }),
      env: (command, containerId, pod, state = stateDir) => ({
        ...base, KUBE_OVN_OFFLOAD_STATE_DIR: state, CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: o.netns, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${pod}`,
      }),
      async intoPod(vfs) {
        const names = vfs.map((pci) => vfByPci.get(pci)?.netdev).filter((n): n is string => n !== undefined && made.includes(n));
        if (names.length) await ipBatch(names.map((n) => `link set dev ${n} netns ${o.netns}`));
      },
      async reset(vf, containerId) {
        const v = vfByPci.get(vf)!;
        if (made.includes(v.netdev!)) {
          const back = await execa('ip', ['link', 'show', 'dev', v.netdev!], { reject: false, timeout: 10_000 });
          if (back.exitCode !== 0) throw new Error(`${o.name}: DEL left VF netdev ${v.netdev} in the pod netns`);
        }
        if (o.mode !== 'shim') return;
        // What the daemon's ADD did to the model: representor renamed, VF netdev gone to the pod.
        const now = node.vf(vf).vf;
        if (now.rep !== v.rep) node.renameNetdev(representorHostName(containerId, 'eth0'), v.rep!);
        if (now.netdev === undefined) node.vfReturned(vf, v.netdev!);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Several `ip` commands in one process; `force` goes on past failures (clean-up). */
async function ipBatch(lines: string[], force = false): Promise<void> {
  if (lines.length === 0) return;
  await execa('ip', [...(force ? ['-force'] : []), '-batch', '-'], { input: lines.join('\n') + '\n', timeout: 60_000, reject: !force });
}
