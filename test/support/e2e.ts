/**
 * The end-to-end rig (docs/testing.md#the-suites, needs root): a simulated node whose VF netdevs and
 * representors are real veth pairs (one end each), pod netns, the strict simulated daemon
 * doing the daemon's work on them in a simulated cluster, and our cnitool (built on Debian's
 * libcni) driving the plugin through the topology's conflist. Everything it makes,
 * `cleanup()` removes, also after a failure.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { SimNode, connectx5, type NodeSpec } from './sim-node.js';
import { SimDaemon, type SimDaemonOptions } from './sim-daemon.js';
import { SimCluster, type ClusterSpec } from './sim-cluster.js';
import { PLUGIN_BIN } from './plugin.js';
import { startOvsdb, type OvsdbServer } from './ovsdb-server.js';
import { KUBE_OVN_CNI } from './kube-ovn-cni.js';

export const CNITOOL = fileURLToPath(new URL('../../.cache/cnitool', import.meta.url));
const BUILD_CNITOOL = fileURLToPath(new URL('./build-cnitool.sh', import.meta.url));

export const isRoot = process.getuid?.() === 0;

export async function buildCnitool(): Promise<void> {
  await execa('bash', [BUILD_CNITOOL, CNITOOL], { timeout: 300_000, stdio: 'inherit' });
}

export interface CnitoolOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  json?: Record<string, any>;
  /** The plugin's CNI error, when libcni reported one. */
  error?: { code: number; msg: string; details: string };
}

export type Topology = 'guard' | 'shim';

export interface Rig {
  id: string;
  topology: Topology;
  node: SimNode;
  /** What kube-ovn-controller knows: the NAD of this topology, its Subnet, the pods' annotations. */
  cluster: SimCluster;
  daemon: SimDaemon;
  dir: string;
  socket: string;
  logFile: string;
  stateDir: string;
  /** A real ovsdb-server holding br-int and other_config:hw-offload=true. */
  ovs: OvsdbServer;
  /** The plugin's environment on this node (PATH with fake tools, sysfs root, state dir). */
  env: Record<string, string>;
  /** Makes a pod netns and returns its path; removed by cleanup. */
  netns(name?: string): Promise<string>;
  /**
   * Writes the topology's conflist as Multus hands it over: guard [kube-ovn-offload, kube-ovn,
   * portmap], shim [kube-ovn-offload, portmap], with `deviceID` and `pciBusID` in every plugin
   * (addDeviceIDInConfList) when the pod has a VF. `plugin` and `kubeOvn` add keys to those entries.
   */
  conflist(opts: ConflistOptions): void;
  /** The same conflist as a document, for a runtime's conf_dir. */
  conflistDoc(opts: ConflistOptions): { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
  /** Runs cnitool with the conflist last written, or the one written for `deviceID` ('' for none). */
  cnitool(cmd: 'add' | 'check' | 'del', netns: string, opts?: CnitoolOptions): Promise<CnitoolOutcome>;
  cleanup(): Promise<void>;
}

export interface ConflistOptions {
  cniVersion: string;
  deviceID?: string;
  plugin?: Record<string, unknown>;
  kubeOvn?: Record<string, unknown>;
}

export interface CnitoolOptions {
  /** CNI_ARGS; default the Multus thick form for pod default/nginx-<rig id>. */
  args?: string;
  ifname?: string;
  deviceID?: string;
  /** The sandbox ID (containerd's 64 hex); default cnitool's, derived from the netns path. */
  containerId?: string;
  /** Capability arguments (libcni passes them to plugins that declare the capability). */
  capArgs?: Record<string, unknown>;
}

export const NETWORK = 'kube-ovn';
/** The NAD each topology's pods use (docs/topologies.md), as the cluster knows it. */
export const NAD = { guard: { namespace: 'default', name: 'default' }, shim: { namespace: 'kube-system', name: 'kube-ovn-offload' } } as const;
const GUARD_PROVIDER = 'default.default.ovn';

/**
 * CNI_ARGS as Multus builds them (createRuntimeConf): its five pairs, then in thin mode the
 * runtime's own pairs again, in containerd's random order; in thick mode an empty
 * K8S_POD_INFRA_CONTAINER_ID (docs/upstream.md#multus-cni_args).
 */
export function multusArgs(pod: { namespace: string; name: string; uid?: string }, opts: { thin?: string } = {}): string {
  const uid = pod.uid ?? '4f6c2d1e-9a0b-4c3d-8e7f-1a2b3c4d5e6f';
  const fixed = `IgnoreUnknown=true;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${opts.thin ?? ''};K8S_POD_UID=${uid}`;
  if (opts.thin === undefined) return fixed;
  const runtime = [`K8S_POD_NAMESPACE=${pod.namespace}`, `K8S_POD_NAME=${pod.name}`, `K8S_POD_INFRA_CONTAINER_ID=${opts.thin}`, `K8S_POD_UID=${uid}`, 'IgnoreUnknown=1'];
  return `${fixed};${shuffle(runtime).join(';')}`;
}

function shuffle<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * A node with `vfs` VFs whose netdev/representor are real veth pairs, the strict simulated
 * daemon plumbing them in a cluster laid out for the topology (guard: the NAD default/default
 * with kube-ovn in its list and its Subnet, pods annotated with it; shim: the clusterNetwork
 * NAD, pods on the default `ovn` network), kube-ovn's binary (our stand-in) and portmap.
 */
export async function createRig(opts: { vfs?: number; topology?: Topology; cluster?: Partial<ClusterSpec>; daemon?: Partial<Omit<SimDaemonOptions, 'socketPath' | 'cluster'>>; spec?: (pf: NodeSpec['pfs'][number]) => void; plugin?: string } = {}): Promise<Rig> {
  const id = randomBytes(2).toString('hex');
  const topology = opts.topology ?? 'guard';
  const prefix = `kv${id}`;
  const pf = connectx5({ vfs: opts.vfs ?? 2, prefix });
  opts.spec?.(pf);
  const node = new SimNode({ pfs: [pf], nsenter: 'real', hostNetns: `/proc/${process.pid}/ns/net` });
  const dir = mkdtempSync(join(tmpdir(), 'kovo-e2e-'));
  const socket = join(dir, 'kube-ovn-daemon.sock');
  const logFile = join(dir, 'kube-ovn-offload.log');
  const stateDir = join(dir, 'state');
  const namespaces: string[] = [];
  const originalNames = pf.vfs.flatMap((vf) => [vf.netdev, vf.rep]).filter((n): n is string => Boolean(n));
  let ovs: OvsdbServer | undefined;
  let daemon: SimDaemon | undefined;
  let lastDevice = '';
  const env = { ...node.env(), KUBE_OVN_OFFLOAD_STATE_DIR: stateDir };
  const entries = (deviceID?: string, plugin: Record<string, unknown> = {}, kubeOvn: Record<string, unknown> = {}) => {
    const ours = { type: 'kube-ovn-offload', mode: topology, server_socket: socket, ovsdb_socket: ovs?.socket ?? '', log_file: logFile, log_level: 'debug' };
    const list = topology === 'guard'
      ? [{ ...ours, ...plugin }, { type: 'kube-ovn', server_socket: socket, provider: GUARD_PROVIDER, ...kubeOvn }, { type: 'portmap', capabilities: { portMappings: true } }]
      : [{ ...ours, provider: 'ovn', ...plugin }, { type: 'portmap', capabilities: { portMappings: true } }];
    // Multus adds deviceID and pciBusID to every plugin of the list.
    return deviceID ? list.map((p) => ({ ...p, deviceID, pciBusID: deviceID })) : list;
  };
  const conflistDoc = ({ cniVersion, deviceID, plugin, kubeOvn }: ConflistOptions) => ({ cniVersion, name: NETWORK, plugins: entries(deviceID, plugin, kubeOvn) });
  const nad = NAD[topology];
  const cluster = new SimCluster({
    version: 'head',
    nads: [{ ...nad, config: { plugins: entries() } }],
    // Guard: kube-ovn v1.15.18+/HEAD need a Subnet for the NAD's provider (manifests emits it).
    subnets: topology === 'guard' ? [{ name: 'offload', provider: GUARD_PROVIDER, cidrBlock: '10.17.0.0/16', gateway: '10.17.0.1' }] : [],
    anyPod: topology === 'guard' ? { 'v1.multus-cni.io/default-network': `${nad.namespace}/${nad.name}` } : {},
    ...opts.cluster,
  });

  const cleanup = async (): Promise<void> => {
    await daemon?.stop().catch(() => undefined);
    await ovs?.stop().catch(() => undefined);
    const now = (() => {
      try {
        return node.spec.pfs.flatMap((p) => p.vfs).flatMap((vf) => [vf.netdev, vf.rep]);
      } catch {
        return [];
      }
    })();
    // A netns takes its veth ends with it, and so their peers; then the host ends left.
    for (const ns of namespaces) await execa('ip', ['netns', 'del', ns], { reject: false, timeout: 10_000 });
    const names = new Set([...originalNames, ...now].filter((n): n is string => Boolean(n)));
    for (const name of names) await execa('ip', ['link', 'del', 'dev', name], { reject: false, timeout: 10_000 });
    rmSync(dir, { recursive: true, force: true });
    node.remove();
  };

  try {
    for (const vf of pf.vfs) {
      await execa('ip', ['link', 'add', vf.netdev!, 'address', vf.mac, 'type', 'veth', 'peer', 'name', vf.rep!], { timeout: 10_000 });
    }
    mkdirSync(join(dir, 'ovs'));
    ovs = await startOvsdb(join(dir, 'ovs'));
    await ovs.vsctl('set', 'Open_vSwitch', '.', 'other_config:hw-offload=true');
    daemon = new SimDaemon({ socketPath: socket, cluster, node, plumb: true, ovs, ...opts.daemon });
    await daemon.start();
    const plugins = join(dir, 'plugins');
    mkdirSync(plugins);
    symlinkSync(opts.plugin ?? PLUGIN_BIN, join(plugins, 'kube-ovn-offload'));
    symlinkSync(KUBE_OVN_CNI, join(plugins, 'kube-ovn'));
    for (const p of ['portmap', 'tuning']) symlinkSync(`/usr/lib/cni/${p}`, join(plugins, p));
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    id,
    topology,
    node,
    cluster,
    daemon,
    dir,
    socket,
    logFile,
    stateDir,
    ovs,
    env,
    async netns(name = `kovo-${id}-${namespaces.length}`) {
      namespaces.push(name); // before the await: parallel callers get distinct names
      await execa('ip', ['netns', 'add', name], { timeout: 10_000 });
      return `/var/run/netns/${name}`;
    },
    conflistDoc,
    conflist(opts) {
      const doc = conflistDoc(opts);
      const key = opts.deviceID ?? '';
      mkdirSync(join(dir, `net.d-${key}`), { recursive: true });
      writeFileSync(join(dir, `net.d-${key}`, `${NETWORK}.conflist`), JSON.stringify(doc, null, 2));
      lastDevice = key;
    },
    async cnitool(cmd, netns, o = {}) {
      const r = await execa(CNITOOL, [cmd, NETWORK, netns, ...(o.ifname ? ['-i', o.ifname] : [])], {
        env: {
          ...env,
          NETCONFPATH: join(dir, `net.d-${o.deviceID ?? lastDevice}`),
          CNI_PATH: join(dir, 'plugins'),
          CNI_CACHE_DIR: join(dir, 'cache'),
          CNI_ARGS: o.args ?? multusArgs({ namespace: 'default', name: `nginx-${id}` }),
          CNITOOL_TIMEOUT_S: '60',
          ...(o.containerId ? { CNITOOL_CONTAINERID: o.containerId } : {}),
          ...(o.capArgs ? { CAP_ARGS: JSON.stringify(o.capArgs) } : {}),
        },
        extendEnv: false,
        reject: false,
        timeout: 90_000,
      });
      const stdout = String(r.stdout);
      const stderr = String(r.stderr);
      const errLine = stderr.split('\n').find((l) => l.startsWith('CNI_ERROR '));
      return {
        exitCode: r.exitCode ?? -1,
        stdout,
        stderr,
        json: stdout.trim() ? (JSON.parse(stdout) as Record<string, any>) : undefined,
        error: errLine ? (JSON.parse(errLine.slice('CNI_ERROR '.length)) as CnitoolOutcome['error']) : undefined,
      };
    },
    cleanup,
  };
}

/** `ip -j` output of a link, read in a netns (or the host when ns is undefined). */
export async function linkInfo(name: string, ns?: string): Promise<Record<string, any> | undefined> {
  const r = await ipAt(ns, ['-j', '-d', 'addr', 'show', 'dev', name]);
  if (r.exitCode !== 0) return undefined;
  return (JSON.parse(String(r.stdout)) as Array<Record<string, any>>)[0];
}

export async function routes(ns: string): Promise<Array<Record<string, any>>> {
  const r = await ipAt(ns, ['-j', 'route', 'show']);
  return JSON.parse(String(r.stdout)) as Array<Record<string, any>>;
}

/** `ip` in the host netns, a named one (/run/netns/<name>), or one given by path (a runtime's). */
function ipAt(ns: string | undefined, args: string[]) {
  if (ns?.startsWith('/')) return execa('nsenter', [`--net=${ns}`, 'ip', ...args], { reject: false, timeout: 10_000 });
  return execa('ip', [...(ns ? ['-n', ns] : []), ...args], { reject: false, timeout: 10_000 });
}

/** Links in the host netns whose names start with a prefix: what a test may have left. */
export async function hostLinks(prefix: string): Promise<string[]> {
  const r = await execa('ip', ['-j', 'link', 'show'], { timeout: 10_000 });
  return (JSON.parse(String(r.stdout)) as Array<{ ifname: string }>).map((l) => l.ifname).filter((n) => n.startsWith(prefix));
}

/** Removes a rig and checks it left no link behind in the host netns. */
export async function finishRig(rig: Rig | undefined): Promise<void> {
  if (!rig) return;
  await rig.cleanup();
  const left = await hostLinks(`kv${rig.id}`);
  if (left.length > 0) throw new Error(`rig ${rig.id} left links behind: ${left.join(', ')}`);
}
