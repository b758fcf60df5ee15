import * as z from 'zod/mini';
import { CniError, Code } from '../cni/errors.js';
import { garbage, parseToolJson, type RunTool } from './tools.js';

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
