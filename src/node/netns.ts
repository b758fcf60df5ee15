import { stat, statfs } from './fs-now.js';
import * as z from 'zod/mini';
import { CniError, Code } from '../cni/errors.js';
import { garbage, parseToolJson, type RunTool } from './tools.js';

// statfs(2) f_type of a network namespace file (linux/magic.h NSFS_MAGIC, "nsfs").
const NSFS_MAGIC = 0x6e736673;

/**
 * Whether a netns path still names a network namespace: an nsfs mount (/run/netns/<name>, a
 * /proc/<pid>/ns/net link), as the kube-ovn daemon's ns.GetNS requires. A path that remains as
 * an empty file after its namespace was unmounted is gone, not alive.
 */
export async function netnsAlive(path: string): Promise<boolean> {
  if (!path) return false;
  try {
    return (await statfs(path)).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Whether a netns path names the plugin's own network namespace (the host's, on a node): the
 * same nsfs inode as /proc/self/ns/net. A pod's never is; configuring it would rewrite the
 * host's IPv6 sysctls and move its interfaces.
 */
export async function isOwnNetns(path: string): Promise<boolean> {
  if (!path) return false;
  try {
    const [given, own] = await Promise.all([stat(path), stat('/proc/self/ns/net')]);
    return given.dev === own.dev && given.ino === own.ino;
  } catch {
    return false;
  }
}

// ip -j addr show dev eth0 → [{"ifname":"eth0","address":"02:…","addr_info":[{"family":"inet","local":"10.16.0.5","prefixlen":16}]}]
const IpAddrShow = z.array(z.looseObject({
  ifname: z.string(),
  address: z.optional(z.string()),
  mtu: z.optional(z.number()),
  addr_info: z.optional(z.array(z.looseObject({ local: z.string(), prefixlen: z.number() }))),
}));

export interface LinkInNetns {
  name: string;
  mac?: string;
  addresses: string[];
}

/**
 * A link inside a network namespace given by path (CNI_NETNS), read with
 * `nsenter --net=<path> ip -j addr show dev <name>`; undefined when the link is not there.
 */
export async function linkInNetns(run: RunTool, netns: string, name: string): Promise<LinkInNetns | undefined> {
  const args = [`--net=${netns}`, 'ip', '-j', 'addr', 'show', 'dev', name];
  const out = await run('nsenter', args);
  if (out === 'absent') throw new CniError(Code.IOFailure, 'nsenter is not installed', 'CHECK reads the pod netns with nsenter (util-linux)');
  if (out.exitCode !== 0) {
    if (/does not exist/.test(out.stderr)) return undefined;
    if (/No such file|reassociate/.test(out.stderr)) throw new CniError(Code.IOFailure, `network namespace ${netns} cannot be entered`, out.stderr.trim());
    throw garbage('nsenter', args, out, 'failed');
  }
  const doc = IpAddrShow.safeParse(parseToolJson('ip', args, out));
  if (!doc.success) throw garbage('ip', args, out, 'printed JSON of an unknown shape');
  const link = doc.data[0];
  if (!link) return undefined;
  return { name: link.ifname, mac: link.address, addresses: (link.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`) };
}

// What kube-ovn's binary does before asking the daemon (cmd/cni/sysctl.go): IPv6 on, router
// advertisements off, in the pod netns; sysctls that do not exist or cannot be written are skipped.
const IPV6_SYSCTLS = ['all', 'default'].flatMap((c) => [`/proc/sys/net/ipv6/conf/${c}/disable_ipv6`, `/proc/sys/net/ipv6/conf/${c}/accept_ra`]);
const IPV6_SCRIPT = `for f in ${IPV6_SYSCTLS.join(' ')}; do [ -w "$f" ] && echo 0 > "$f"; done; exit 0`;

/** Enables IPv6 in the pod netns as kube-ovn's binary does; `absent` when nsenter is missing. */
export async function enableIpv6(run: RunTool, netns: string): Promise<'done' | 'absent'> {
  const args = [`--net=${netns}`, 'sh', '-c', IPV6_SCRIPT];
  const out = await run('nsenter', args);
  if (out === 'absent') return 'absent';
  if (out.exitCode !== 0) throw new CniError(Code.IOFailure, `cannot enter the pod netns ${netns}`, `nsenter --net=${netns}: ${out.stderr.trim()}`);
  return 'done';
}

// ip -j link show → [{"ifindex":5,"ifname":"eth0","ifalias":"enp66s0f0v0","address":"00:00:00:…",…}]
const IpLinkShow = z.array(z.looseObject({ ifname: z.string(), ifalias: z.optional(z.string()) }));

/**
 * Brings a VF the kube-ovn daemon released back to the host netns. Its DEL renames the VF to
 * its original name but leaves it in the pod's netns (releaseVf moves it into that same netns,
 * kube-ovn#3437), where it would stay until the runtime destroys the netns; until then a pod
 * given the VF again finds no netdev. Looks for the VF by its original name, else by the pod's
 * ifname with that name as its alias (a daemon that could not rename it); moves it to this
 * process's netns by pid.
 * Returns what it did, for the log.
 */
export async function returnVfToHost(run: RunTool, netns: string, vf: { original: string; ifname: string }): Promise<string> {
  const inPod = async (args: string[]) => {
    const out = await run('nsenter', [`--net=${netns}`, 'ip', ...args]);
    if (out === 'absent') throw new CniError(Code.IOFailure, 'nsenter is not installed', 'returning the VF to the host netns enters the pod netns with nsenter (util-linux)');
    return out;
  };
  const listed = await inPod(['-j', 'link', 'show']);
  if (listed.exitCode !== 0) throw garbage('nsenter', [`--net=${netns}`, 'ip', '-j', 'link', 'show'], listed, 'failed');
  const doc = IpLinkShow.safeParse(parseToolJson('ip', ['-j', 'link', 'show'], listed));
  if (!doc.success) throw garbage('ip', ['-j', 'link', 'show'], listed, 'printed JSON of an unknown shape');
  const names = doc.data.map((l) => l.ifname);
  // Under the pod's ifname only when it is the VF: kube-ovn set its ifalias to the VF's own name.
  const asIfname = doc.data.find((l) => l.ifname === vf.ifname && l.ifalias === vf.original);
  let name = names.includes(vf.original) ? vf.original : asIfname?.ifname;
  if (!name) return `VF ${vf.original} is not in ${netns} (links there: ${names.join(', ') || 'none'})`;
  const step = async (args: string[]) => {
    const out = await inPod(args);
    if (out.exitCode !== 0) throw new CniError(Code.IOFailure, `cannot return VF ${vf.original} to the host: \`ip ${args.join(' ')}\` failed in ${netns}`, out.stderr.trim());
  };
  if (name !== vf.original) {
    // The host may hold a device of the pod's name ("eth0"): the VF goes back under its own.
    await step(['link', 'set', 'dev', name, 'down']);
    await step(['link', 'set', 'dev', name, 'name', vf.original]);
    name = vf.original;
  }
  // By pid: nsenter changes only the network namespace, so our pid names our (the host's) netns.
  await step(['link', 'set', 'dev', name, 'netns', String(process.pid)]);
  return `returned VF ${vf.original} from ${netns} to the host`;
}

/** `ip link set dev <name> down` in this netns; false when there is no such device. */
export async function setLinkDown(run: RunTool, name: string): Promise<boolean> {
  const args = ['link', 'set', 'dev', name, 'down'];
  const out = await run('ip', args);
  if (out === 'absent') throw new CniError(Code.IOFailure, 'ip is not installed', 'iproute2 is needed to set the representor down');
  if (out.exitCode === 0) return true;
  if (/Cannot find device|does not exist/.test(out.stderr)) return false;
  throw garbage('ip', args, out, 'failed');
}

/**
 * Sets a VF's administrative MAC through its PF, as the kube-ovn daemon's setVfMac does
 * (`ip link set <pf> vf <n> mac <mac>`); 00:00:00:00:00:00 clears what the last pod was given.
 */
export async function setVfMac(run: RunTool, pfNetdev: string, vfIndex: number, mac: string): Promise<void> {
  const args = ['link', 'set', 'dev', pfNetdev, 'vf', String(vfIndex), 'mac', mac];
  const out = await run('ip', args);
  if (out === 'absent') throw new CniError(Code.IOFailure, 'ip is not installed', 'iproute2 is needed to reset the VF MAC');
  if (out.exitCode !== 0) throw garbage('ip', args, out, 'failed');
}
