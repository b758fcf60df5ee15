import { z } from 'zod';
import { CniError, Code } from '../cni/errors.js';
import { garbage, parseToolJson, type RunTool } from './tools.js';

// ip -j addr show dev eth0 → [{"ifname":"eth0","address":"02:…","addr_info":[{"family":"inet","local":"10.16.0.5","prefixlen":16}]}]
const IpAddrShow = z.array(z.looseObject({
  ifname: z.string(),
  address: z.string().optional(),
  mtu: z.number().optional(),
  addr_info: z.array(z.looseObject({ local: z.string(), prefixlen: z.number() })).optional(),
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
