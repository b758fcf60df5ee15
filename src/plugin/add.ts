import { podIdentity } from '../cni/env.js';
import { mergeResults, parsePrevResult, type Result } from '../cni/result.js';
import { responseIps } from '../kubeovn/protocol.js';
import { requireDeviceId } from '../node/device-id.js';
import { enableIpv6 } from '../node/netns.js';
import { representorFromSysfs } from '../node/representor.js';
import type { Context } from './context.js';
import { resultFromDaemon } from './daemon-result.js';
import { enforce } from './enforce.js';
import { preflight } from './preflight.js';
import { addRequest } from './request.js';

/** ADD: find the VF and its representor, check offload can work, let the daemon plumb it. */
export async function cmdAdd(ctx: Context): Promise<Result> {
  podIdentity(ctx.env); // K8S_POD_NAME/NAMESPACE are checked before any work, as kube-ovn does
  const device = await requireDeviceId(ctx.conf.deviceIdSources);
  ctx.log.with({ deviceID: device.pci });

  const report = await preflight(ctx.node, device.pci, ctx.conf, { vfInHost: true });
  const { vf, uplink, representor } = report.facts;
  ctx.log.with({ uplink, representor: representor?.name });
  enforce(ctx, report);

  if ((await enableIpv6(ctx.node.run, ctx.env.netns)) === 'absent') {
    ctx.log.warn('IPv6 sysctls of the pod netns not set: nsenter is not installed');
  }
  const resp = await ctx.daemon.add(addRequest(ctx, device.pci));
  // The daemon renamed the representor (<cid[:12]>_h); ask sysfs for its name now.
  const { sysfs } = ctx.node;
  const repNow = (await representorFromSysfs(sysfs, vf.pf, vf.index)) ?? representor?.name ?? '';
  const repMac = repNow ? await sysfs.read(sysfs.netdev(repNow, 'address')) : undefined;
  ctx.log.info('attached', { representor: repNow, ips: responseIps(resp).map((i) => i.ip) });

  const ours = resultFromDaemon(resp, { ifname: ctx.env.ifname, netns: ctx.env.netns, vfPci: vf.pci }, { representor: repNow, mac: repMac }, ctx.conf.dns);
  return mergeResults(parsePrevResult(ctx.conf.prevResult), ours);
}
