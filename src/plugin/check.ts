import { CniError, Code } from '../cni/errors.js';
import { parsePrevResult } from '../cni/result.js';
import { requireDeviceId } from '../node/device-id.js';
import { linkInNetns } from '../node/netns.js';
import type { Context } from './context.js';
import { enforce } from './enforce.js';
import { preflight } from './preflight.js';

/** CHECK: the offload prerequisites still hold and the pod's interface is still as ADD left it. */
export async function cmdCheck(ctx: Context): Promise<void> {
  const prev = parsePrevResult(ctx.conf.prevResult);
  if (!prev) throw new CniError(Code.InvalidConfig, 'CHECK needs prevResult', 'the runtime passes the ADD result as prevResult; none was given');
  const device = await requireDeviceId(ctx.conf.deviceIdSources);
  ctx.log.with({ deviceID: device.pci });

  const report = await preflight(ctx.node, device.pci, ctx.conf, { vfInHost: false });
  ctx.log.with({ uplink: report.facts.uplink, representor: report.facts.representor?.name });
  enforce(ctx, report);

  if (ctx.conf.vfDriver === 'vfio-pci') {
    // A vfio-pci VF has no netdev in the pod (the VM or DPDK app owns it); preflight checked its driver.
    ctx.log.info('check passed (vfio-pci: no netdev in the pod to look at)');
    return;
  }
  const { ifname, netns } = ctx.env;
  const want = prev.interfaces?.findIndex((i) => i.name === ifname && i.sandbox === netns) ?? -1;
  if (want < 0) throw new CniError(Code.PodInterface, `prevResult has no interface ${ifname} in ${netns}`, JSON.stringify(prev.interfaces ?? []));
  const link = await linkInNetns(ctx.node.run, netns, ifname);
  if (!link) throw new CniError(Code.PodInterface, `interface ${ifname} is gone from the pod netns ${netns}`, `VF ${device.pci}; the pod needs to be recreated`);
  const iface = prev.interfaces![want]!;
  if (iface.mac && link.mac && iface.mac.toLowerCase() !== link.mac.toLowerCase()) {
    throw new CniError(Code.PodInterface, `interface ${ifname} has MAC ${link.mac}, expected ${iface.mac}`, `VF ${device.pci} in ${netns}`);
  }
  const missing = (prev.ips ?? []).filter((ip) => ip.interface === want && !link.addresses.includes(ip.address)).map((ip) => ip.address);
  if (missing.length > 0) {
    throw new CniError(Code.PodInterface, `interface ${ifname} lacks ${missing.join(', ')}`, `addresses in ${netns}: [${link.addresses.join(', ')}]`);
  }
  ctx.log.info('check passed');
}
