/**
 * The end-to-end rig (DESIGN §4, needs root): a simulated node whose VF netdevs and
 * representors are real veth pairs (one end each), a pod netns, the simulated daemon doing
 * the daemon's work on them, and our cnitool (built on Debian's libcni) driving the plugin
 * through a conflist. Everything it makes, `cleanup()` removes, also after a failure.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { SimNode, connectx5, type NodeSpec } from './sim-node.js';
import { SimDaemon, type SimDaemonOptions } from './sim-daemon.js';
import { PLUGIN_BIN } from './plugin.js';
import { startOvsdb, type OvsdbServer } from './ovsdb-server.js';

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

export interface Rig {
  id: string;
  node: SimNode;
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
  /** Writes the conflist [kube-ovn-offload, tuning] for a VF, as Multus would hand it over. */
  conflist(opts: { cniVersion: string; deviceID: string; plugin?: Record<string, unknown> }): void;
  /** Runs cnitool with the conflist last written, or the one written for `deviceID`. */
  cnitool(cmd: 'add' | 'check' | 'del', netns: string, opts?: { args?: string; ifname?: string; deviceID?: string }): Promise<CnitoolOutcome>;
  cleanup(): Promise<void>;
}

export const NETWORK = 'kube-ovn';

/** A node with `vfs` VFs whose netdev/representor are real veth pairs, and a plumbing daemon. */
export async function createRig(opts: { vfs?: number; daemon?: Partial<SimDaemonOptions>; spec?: (pf: NodeSpec['pfs'][number]) => void; plugin?: string } = {}): Promise<Rig> {
  const id = randomBytes(2).toString('hex');
  const prefix = `kv${id}`;
  const pf = connectx5({ vfs: opts.vfs ?? 2, prefix });
  opts.spec?.(pf);
  const node = new SimNode({ pfs: [pf], nsenter: 'real' });
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

  const cleanup = async (): Promise<void> => {
    await daemon?.stop().catch(() => undefined);
    await ovs?.stop().catch(() => undefined);
    // A netns takes its veth ends with it, and so their peers; then the host ends left.
    for (const ns of namespaces) await execa('ip', ['netns', 'del', ns], { reject: false, timeout: 10_000 });
    const names = new Set([...originalNames, ...pf.vfs.flatMap((vf) => [vf.netdev, vf.rep]).filter((n): n is string => Boolean(n))]);
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
    daemon = new SimDaemon({ socketPath: socket, plumb: node, ovs, ...opts.daemon });
    await daemon.start();
    const plugins = join(dir, 'plugins');
    mkdirSync(plugins);
    symlinkSync(opts.plugin ?? PLUGIN_BIN, join(plugins, 'kube-ovn-offload'));
    symlinkSync('/usr/lib/cni/tuning', join(plugins, 'tuning'));
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    id,
    node,
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
    conflist({ cniVersion, deviceID, plugin }) {
      // Multus adds deviceID and pciBusID to every plugin of the list.
      const injected = { deviceID, pciBusID: deviceID };
      const doc = {
        cniVersion,
        name: NETWORK,
        plugins: [
          { type: 'kube-ovn-offload', server_socket: socket, ovsdb_socket: ovs!.socket, provider: 'default.default.ovn', log_file: logFile, log_level: 'debug', ...injected, ...plugin },
          { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.arp_notify': '1' }, ...injected },
        ],
      };
      mkdirSync(join(dir, `net.d-${deviceID}`), { recursive: true });
      writeFileSync(join(dir, `net.d-${deviceID}`, `${NETWORK}.conflist`), JSON.stringify(doc, null, 2));
      lastDevice = deviceID;
    },
    async cnitool(cmd, netns, o = {}) {
      const r = await execa(CNITOOL, [cmd, NETWORK, netns, ...(o.ifname ? ['-i', o.ifname] : [])], {
        env: {
          ...env,
          NETCONFPATH: join(dir, `net.d-${o.deviceID ?? lastDevice}`),
          CNI_PATH: join(dir, 'plugins'),
          CNI_CACHE_DIR: join(dir, 'cache'),
          CNI_ARGS: o.args ?? `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx-${id}`,
          CNITOOL_TIMEOUT_S: '60',
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
  const r = await execa('ip', [...(ns ? ['-n', ns] : []), '-j', '-d', 'addr', 'show', 'dev', name], { reject: false, timeout: 10_000 });
  if (r.exitCode !== 0) return undefined;
  return (JSON.parse(String(r.stdout)) as Array<Record<string, any>>)[0];
}

export async function routes(ns: string): Promise<Array<Record<string, any>>> {
  const r = await execa('ip', ['-n', ns, '-j', 'route', 'show'], { timeout: 10_000 });
  return JSON.parse(String(r.stdout)) as Array<Record<string, any>>;
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
