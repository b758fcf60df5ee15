/**
 * A simulated node as the operator CLI sees it: the fake sysfs, /proc/sys/kernel/osrelease,
 * a real ovsdb-server and the simulated kube-ovn daemon at their default places under
 * /run/openvswitch of the root, and the CNI conf and bin dirs (test/support/cni-dirs.ts).
 * Removed after each test.
 */
import { afterEach } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimNode, connectx5, type NodeSpec } from './sim-node.js';
import { SimDaemon } from './sim-daemon.js';
import { SimCluster } from './sim-cluster.js';
import { startOvsdb, type OvsdbServer } from './ovsdb-server.js';
import { cli, type CliOutcome } from './cli.js';
import { CniDirs, guideSetup } from './cni-dirs.js';

export interface CliNode {
  node: SimNode;
  ovs?: OvsdbServer;
  daemon?: SimDaemon;
  /** $ROOT/etc/cni/net.d and $ROOT/opt/cni/bin. */
  cni: CniDirs;
  stateDir: string;
  cli(...args: string[]): Promise<CliOutcome>;
}

export interface CliNodeOptions {
  spec?: NodeSpec;
  kernel?: string;
  services?: boolean;
  /** What the CNI dirs hold; default guideSetup (thick Multus, chrootDir, clusterNetwork a NAD); false: empty dirs. */
  cni?: false | ((dirs: CniDirs) => void);
}

export function useCliNode(): (opts?: CliNodeOptions) => Promise<CliNode> {
  const made: CliNode[] = [];
  afterEach(async () => {
    for (const n of made.splice(0)) {
      await n.daemon?.stop();
      await n.ovs?.stop();
      n.node.remove();
    }
  });
  return async (opts = {}) => {
    const node = new SimNode(opts.spec ?? { pfs: [connectx5()] });
    const entry: CliNode = { node, cni: new CniDirs(node.root), stateDir: join(node.root, 'state'), cli: () => Promise.reject(new Error('not ready')) };
    made.push(entry);
    if (opts.cni !== false) (opts.cni ?? guideSetup)(entry.cni);
    mkdirSync(join(node.root, 'proc/sys/kernel'), { recursive: true });
    writeFileSync(join(node.root, 'proc/sys/kernel/osrelease'), `${opts.kernel ?? '6.1.0-18-amd64'}\n`);
    const run = join(node.root, 'run', 'openvswitch');
    mkdirSync(run, { recursive: true });
    if (opts.services !== false) {
      entry.ovs = await startOvsdb(run);
      await entry.ovs.vsctl('set', 'Open_vSwitch', '.', 'other_config:hw-offload=true');
      entry.daemon = await new SimDaemon({ socketPath: join(run, 'kube-ovn-daemon.sock'), cluster: new SimCluster({ version: 'head' }) }).start();
    }
    const env = { ...node.env(), KUBE_OVN_OFFLOAD_STATE_DIR: entry.stateDir };
    entry.cli = (...args) => cli(args, env);
    return entry;
  };
}
