/** Shared set-up for the integration suites: a simulated node and daemon, removed after each test. */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOvsdb, type OvsdbServer } from './ovsdb-server.js';
import { SimNode, connectx5, type NodeSpec } from './sim-node.js';
import { SimDaemon, type SimDaemonOptions } from './sim-daemon.js';
import { SimCluster, type ClusterSpec } from './sim-cluster.js';
import { invoke, type Invocation, type Outcome } from './plugin.js';
import { holdNetns, type NetnsHolder } from './netns-holder.js';

export const VF0 = '0000:42:00.2';
/**
 * A live network namespace, the pods' CNI_NETNS by default: one per test file, held by a
 * process of its own (the plugin refuses its own netns, which is this process's).
 */
const liveHolder = holdNetns();
export const LIVE_NETNS = liveHolder.path;
process.once('exit', () => void liveHolder.destroy());
export const PF = '0000:42:00.0';

export interface World {
  node: SimNode;
  daemon: SimDaemon;
  socket: string;
  logFile: string;
  /** A real ovsdb-server with br-int and other_config:hw-offload=true (shared by a file's tests). */
  ovs: OvsdbServer;
  /** State dir of this test (KUBE_OVN_OFFLOAD_STATE_DIR). */
  stateDir: string;
  /** The plugin's environment in run(); a test adds a variable with `run(cmd, extra, { env: { ...w.env, X } })`. */
  env: Record<string, string>;
  /** A live network namespace's path (LIVE_NETNS), the pods' CNI_NETNS by default; the fake nsenter never enters it. */
  liveNetns: string;
  /** What kube-ovn-controller knows: by default every pod on the default `ovn` network (the shim's clusterNetwork layout). */
  cluster: SimCluster;
  /**
   * A pod netns that can go away: /proc/<pid>/ns/net of a child in a netns of its own (an nsfs
   * file while it lives). `destroy()` ends it as a runtime destroys a sandbox's netns, and the
   * simulated kernel returns the VFs in it to the host.
   */
  podNetns(): Promise<{ path: string; destroy(): Promise<void> }>;
  /** Files under the state dir: what the plugin keeps and leaves behind. */
  stateFiles(): string[];
  conf(extra?: Record<string, unknown>): Record<string, unknown>;
  run(command: Invocation['command'], extra?: Record<string, unknown>, inv?: Partial<Invocation>): Promise<Outcome>;
  /** The plugin's log, one parsed JSON object per line. */
  log(): Array<Record<string, any>>;
  /** Requests the daemon received on a path. */
  received(path: '/api/v1/add' | '/api/v1/del'): Array<Record<string, unknown>>;
}

/** Registers before/after hooks and returns the current test's world. */
export function useWorld(opts: { spec?: () => NodeSpec; daemon?: Partial<Omit<SimDaemonOptions, 'socketPath' | 'cluster'>>; cluster?: Partial<ClusterSpec> & { dualStack?: boolean } } = {}): () => World {
  let world: World | undefined;
  let ovs: OvsdbServer | undefined;
  let ovsDir = '';
  beforeAll(async () => {
    await liveHolder.ready;
    ovsDir = mkdtempSync(join(tmpdir(), 'kovo-ovsdb-'));
    ovs = await startOvsdb(ovsDir);
  });
  afterAll(async () => {
    await ovs?.stop();
    rmSync(ovsDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    // Each test starts from an empty br-int and hw-offload=true, whatever the last one left.
    await ovs!.vsctl('--', '--if-exists', 'del-br', 'br-int', '--', 'add-br', 'br-int', '--', 'set', 'Open_vSwitch', '.', 'other_config:hw-offload=true');
    const node = new SimNode(opts.spec?.() ?? { pfs: [connectx5()] });
    const socket = join(node.root, 'kube-ovn-daemon.sock');
    const logFile = join(node.root, 'plugin.log');
    const stateDir = join(node.root, 'state');
    const liveNetns = LIVE_NETNS;
    const { dualStack, ...clusterSpec } = opts.cluster ?? {};
    const cluster = new SimCluster({ version: 'head', anyPod: {}, ...clusterSpec }, { dualStack });
    const daemon = await new SimDaemon({ socketPath: socket, cluster, node, ovs: ovs!, ...opts.daemon }).start();
    // The shim (docs/topologies.md#shim), which talks to the daemon itself; guard suites say mode: guard.
    const conf = (extra: Record<string, unknown> = {}) => ({
      cniVersion: '1.1.0',
      name: 'kube-ovn',
      type: 'kube-ovn-offload',
      mode: 'shim',
      server_socket: socket,
      deviceID: VF0,
      pciBusID: VF0,
      log_file: logFile,
      log_level: 'debug',
      ovsdb_socket: ovs!.socket,
      ...extra,
    });
    const env = { ...node.env(), KUBE_OVN_OFFLOAD_STATE_DIR: stateDir };
    world = {
      node,
      daemon,
      socket,
      logFile,
      ovs: ovs!,
      stateDir,
      env,
      liveNetns,
      cluster,
      async podNetns() {
        const holder = holdNetns();
        holders.push(holder);
        await holder.ready;
        return {
          path: holder.path,
          destroy: async () => {
            await holder.destroy();
            node.netnsDestroyed(holder.path);
          },
        };
      },
      stateFiles: () => listFiles(stateDir),
      conf,
      run: (command, extra, inv) => invoke({ command, conf: conf(extra), env, netns: liveNetns, ...inv }),
      log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>) : []),
      received: (path) => daemon.requests.filter((r) => r.path === path).map((r) => r.body),
    };
  });
  const holders: NetnsHolder[] = [];
  afterEach(async () => {
    await Promise.all(holders.splice(0).map((h) => h.destroy()));
    await world?.daemon.stop();
    world?.node.remove();
    world = undefined;
  });
  return () => world!;
}

/** A CNI error printed by the plugin: one JSON document on stdout and exit status 1. */
export function cniError(out: Outcome): { code: number; msg: string; details?: string } {
  if (out.exitCode !== 1 || !out.json) throw new Error(`expected a CNI error, got exit ${out.exitCode}: ${out.stdout} ${out.stderr}`);
  if (out.stdout.trim().split('\n').length !== 1) throw new Error(`stdout has more than one line: ${out.stdout}`);
  return out.json as { code: number; msg: string; details?: string };
}

function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? listFiles(join(dir, n), `${prefix}${n}/`) : [`${prefix}${n}`]));
}
