import { CniError, Code } from '../cni/errors.js';
import { parsePrevResult } from '../cni/result.js';
import { preview } from '../cni/preview.js';
import { findDeviceId } from '../node/device-id.js';
import { linkInNetns } from '../node/netns.js';
import type { Context } from './context.js';
import { enforce } from './enforce.js';
import { preflight } from './preflight.js';
import { sameAttachment } from './state.js';

/** CHECK: the offload prerequisites still hold and the pod's interface is still as ADD left it. */
export async function cmdCheck(ctx: Context): Promise<void> {
  const prev = parsePrevResult(ctx.conf.prevResult);
  if (!prev) throw new CniError(Code.InvalidConfig, 'CHECK needs prevResult', 'the runtime passes the ADD result as prevResult; none was given');
  const key = { network: ctx.conf.name, containerId: ctx.env.containerId, ifname: ctx.env.ifname };
  const fromConfig = await findDeviceId(ctx.conf.deviceIdSources);
  const found = fromConfig ? await ctx.state.get(fromConfig.pci) : await ctx.state.find(key);
  const record = found && sameAttachment(found, key) ? found : undefined; // the VF may be another pod's by now
  const pci = fromConfig?.pci ?? record?.deviceID;
  if (!pci && !ctx.conf.offload.requireVf) {
    // A pod without a VF passes through (clusterNetwork layouts); kube-ovn's own CHECK does nothing.
    ctx.log.info('check passed (no VF: nothing of offload to check)');
    return;
  }
  if (!pci) throw new CniError(Code.NoDeviceID, 'no deviceID in the config and no record of this attachment', `attachment ${key.network}/${key.containerId}/${key.ifname}`);
  ctx.log.with({ deviceID: pci });

  const report = await preflight(ctx.node, pci, ctx.conf, { vfInHost: false });
  const now = report.facts.representor?.name;
  ctx.log.with({ uplink: report.facts.uplink ?? null, representor: now ?? null });
  enforce(ctx, report);
  const expected = record?.representor.host;
  if (expected && now && now !== expected) {
    throw new CniError(Code.NoRepresentor, `the representor of VF ${pci} is ${now}, not ${expected} as ADD left it`, 'the VF was re-attached or renamed since; the pod needs to be recreated');
  }

  if (ctx.conf.vfDriver === 'vfio-pci') {
    // A vfio-pci VF has no netdev in the pod (the VM or DPDK app owns it); preflight checked its driver.
    ctx.log.info('check passed (vfio-pci: no netdev in the pod to look at)');
    return;
  }
  const { ifname, netns } = ctx.env;
  const want = prev.interfaces?.findIndex((i) => i.name === ifname && i.sandbox === netns) ?? -1;
  if (want < 0) throw new CniError(Code.PodInterfaceChanged, `prevResult has no interface ${ifname} in ${netns}`, preview(prev.interfaces ?? [], 300));
  const link = await linkInNetns(ctx.node.run, netns, ifname);
  if (!link) throw new CniError(Code.PodInterfaceChanged, `interface ${ifname} is gone from the pod netns ${netns}`, `VF ${pci}; the pod needs to be recreated`);
  const iface = prev.interfaces![want]!;
  if (iface.mac && link.mac && iface.mac.toLowerCase() !== link.mac.toLowerCase()) {
    throw new CniError(Code.PodInterfaceChanged, `interface ${ifname} has MAC ${link.mac}, expected ${iface.mac}`, `VF ${pci} in ${netns}`);
  }
  const missing = (prev.ips ?? []).filter((ip) => ip.interface === want && !link.addresses.includes(ip.address)).map((ip) => ip.address);
  if (missing.length > 0) {
    throw new CniError(Code.PodInterfaceChanged, `interface ${ifname} lacks ${missing.join(', ')}`, `addresses in ${netns}: [${link.addresses.join(', ')}]`);
  }
  ctx.log.info('check passed');
}
