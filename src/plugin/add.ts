import { podIdentity } from '../cni/env.js';
import { CniError, Code } from '../cni/errors.js';
import { mergeResults, parsePrevResult, type Result } from '../cni/result.js';
import { representorHostName } from '../kubeovn/naming.js';
import { responseIps } from '../kubeovn/protocol.js';
import { requireDeviceId } from '../node/device-id.js';
import { enableIpv6 } from '../node/netns.js';
import { representorFromSysfs } from '../node/representor.js';
import type { Vf } from '../node/vf.js';
import type { Context } from './context.js';
import { resultFromDaemon, type HostSide } from './daemon-result.js';
import { enforce } from './enforce.js';
import { preflight } from './preflight.js';
import { addRequest, requireDaemonContainerId } from './request.js';

/** ADD: find the VF and its representor, check offload can work, let the daemon plumb it. */
export async function cmdAdd(ctx: Context): Promise<Result> {
  const pod = podIdentity(ctx.env); // checked before any work, as kube-ovn does
  requireDaemonContainerId(ctx.env.containerId);
  const prev = ctx.conf.prevResult === undefined ? undefined : parsePrevResult(ctx.conf.prevResult);
  if (ctx.conf.prevResult !== undefined && !prev) {
    throw new CniError(Code.InvalidConfig, 'prevResult is not a CNI result', JSON.stringify(ctx.conf.prevResult).slice(0, 300));
  }
  const device = await requireDeviceId(ctx.conf.deviceIdSources);
  ctx.log.with({ deviceID: device.pci });

  const report = await preflight(ctx.node, device.pci, ctx.conf, { vfInHost: true });
  const { vf, uplink, representor } = report.facts;
  ctx.log.with({ uplink, representor: representor?.name });
  const warnings = enforce(ctx, report);

  if ((await enableIpv6(ctx.node.run, ctx.env.netns)) === 'absent') {
    warnings.push('IPv6 sysctls of the pod netns not set: nsenter is not installed');
    ctx.log.warn(warnings.at(-1)!);
  }
  const resp = await ctx.daemon.add(addRequest(ctx, pod, device.pci));
  const host = representor ? await representorNow(ctx, vf) : undefined;
  ctx.log.info('attached', { representor: host?.representor, ips: responseIps(resp).map((i) => i.ip) });

  const ours = resultFromDaemon(resp, { ifname: ctx.env.ifname, netns: ctx.env.netns, vfPci: vf.pci }, host);
  return { ...mergeResults(prev, ours), ...(warnings.length > 0 ? { warnings } : {}) };
}

/**
 * The representor as it is after the daemon renamed it. The pod is plumbed by now, so a
 * failed read must not fail the ADD: fall back to the name the daemon gives it.
 */
async function representorNow(ctx: Context, vf: Vf): Promise<HostSide> {
  const { sysfs } = ctx.node;
  try {
    const name = await representorFromSysfs(sysfs, vf.pf, vf.index);
    if (name) return { representor: name, mac: await sysfs.read(sysfs.netdev(name, 'address')) };
  } catch (err) {
    ctx.log.warn(`representor of VF ${vf.pci} not re-read after ADD: ${(err as Error).message}`);
  }
  return { representor: representorHostName(ctx.env.containerId, ctx.env.ifname) };
}
