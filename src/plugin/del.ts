import { podIdentity } from '../cni/env.js';
import { rawDeviceId } from '../node/device-id.js';
import { isPciAddress } from '../node/pci.js';
import type { Context } from './context.js';
import { delRequest, daemonAcceptsContainerId } from './request.js';

/**
 * DEL: hand the teardown to the daemon with the deviceID the config has. DEL builds no path
 * from it, so an odd deviceID is forwarded as kube-ovn's binary would, never a reason to fail.
 */
export async function cmdDel(ctx: Context): Promise<void> {
  const pod = podIdentity(ctx.env);
  const device = await rawDeviceId(ctx.conf.deviceIdSources).catch((err: Error) => {
    ctx.log.warn(`deviceID unreadable, deleting without it: ${err.message}`);
    return undefined;
  });
  const lower = device?.value.toLowerCase() ?? '';
  const deviceId = isPciAddress(lower) ? lower : device?.value ?? '';
  ctx.log.with({ deviceID: deviceId });
  if (deviceId && !isPciAddress(deviceId)) ctx.log.warn(`deviceID ${JSON.stringify(device!.value)} from ${device!.source} is not a PCI address; forwarding it as is`);
  if (!daemonAcceptsContainerId(ctx.env.containerId)) {
    // ADD refused this container ID, so nothing can have been attached.
    ctx.log.warn('container ID shorter than 12 characters: nothing to delete');
    return;
  }
  await ctx.daemon.del(delRequest(ctx, pod, deviceId));
  ctx.log.info('detached');
}
