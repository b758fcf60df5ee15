import { podIdentity } from '../cni/env.js';
import { findDeviceId } from '../node/device-id.js';
import type { Context } from './context.js';
import { delRequest } from './request.js';

/** DEL: hand the teardown to the daemon with the same deviceID the ADD had. */
export async function cmdDel(ctx: Context): Promise<void> {
  podIdentity(ctx.env);
  const device = await findDeviceId(ctx.conf.deviceIdSources);
  if (device) ctx.log.with({ deviceID: device.pci });
  await ctx.daemon.del(delRequest(ctx, device?.pci ?? ''));
  ctx.log.info('detached');
}
