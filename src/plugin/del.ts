import { existsSync } from 'node:fs';
import { podIdentity } from '../cni/env.js';
import { CniError, Code } from '../cni/errors.js';
import { representorHostName } from '../kubeovn/naming.js';
import { rawDeviceId } from '../node/device-id.js';
import { isPciAddress } from '../node/pci.js';
import type { Context } from './context.js';
import { lockVf, type Lock } from './lock.js';
import { delRequest, daemonAcceptsContainerId } from './request.js';
import { describeKey, sameAttachment, type Attachment, type AttachmentKey } from './state.js';

/**
 * DEL, best-effort and repeatable (CNI spec): the daemon tears down, then the record goes.
 * It succeeds when run twice, without a record, without a netns, without the VF. When the
 * netns is gone the daemon cannot release the VF and answers 500 (reference §3.4); then the
 * stale representor port is removed from br-int here, through OVSDB.
 */
export async function cmdDel(ctx: Context): Promise<void> {
  const pod = podIdentity(ctx.env);
  const key: AttachmentKey = { network: ctx.conf.name, containerId: ctx.env.containerId, ifname: ctx.env.ifname };
  const configured = await configuredDeviceId(ctx);
  const pci = isPciAddress(configured) ? configured : (await ctx.state.find(key))?.deviceID;
  ctx.log.with({ deviceID: pci ?? (configured || null) });
  if (!daemonAcceptsContainerId(ctx.env.containerId)) {
    // ADD refused this container ID, so nothing can have been attached.
    ctx.log.warn('container ID shorter than 12 characters: nothing to delete');
    return;
  }
  const lock: Lock | undefined = pci ? await lockVf(ctx.state.lockDir, pci, ctx.conf.lockTimeoutMs) : undefined;
  try {
    // A record that cannot be read (a crash, a newer release's) must not make DEL fail forever.
    let unreadable = false;
    const held = pci
      ? await ctx.state.get(pci).catch((err: Error) => {
          ctx.log.warn(`record of VF ${pci} unreadable, deleting without it: ${err.message}`);
          unreadable = true;
          return undefined;
        })
      : undefined;
    const mine = held && sameAttachment(held, key) ? held : undefined;
    if (held && !mine) {
      // The VF went to another pod before this DEL: leave its VF alone (no MAC reset), clean only ours.
      ctx.log.warn(`VF ${pci} now belongs to ${describeKey(held)}; deleting ${describeKey(key)} without touching the VF`);
    }
    const deviceId = held && !mine ? '' : pci ?? configured;
    ctx.log.with({ representor: mine?.representor.host ?? null, uplink: mine?.uplink ?? null });
    try {
      await ctx.daemon.del(delRequest(ctx, pod, deviceId));
    } catch (err) {
      if (!(err instanceof CniError) || err.code !== Code.TryAgainLater || !podGone(ctx, pci)) throw err;
      ctx.log.warn(`the daemon could not delete (${err.message}); the pod's netns is gone, cleaning up here`);
      await removeStalePort(ctx, mine);
    }
    if (mine || (unreadable && pci)) await ctx.state.remove(mine?.deviceID ?? pci!);
    ctx.log.info('detached');
  } finally {
    await lock?.release();
  }
}

/** The config's deviceID as written; DEL builds no path from it, so it never fails on it. */
async function configuredDeviceId(ctx: Context): Promise<string> {
  const device = await rawDeviceId(ctx.conf.deviceIdSources).catch((err: Error) => {
    ctx.log.warn(`deviceID unreadable, deleting without it: ${err.message}`);
    return undefined;
  });
  if (!device) return '';
  const lower = device.value.toLowerCase();
  if (isPciAddress(lower)) return lower;
  ctx.log.warn(`deviceID ${JSON.stringify(device.value)} from ${device.source} is not a PCI address; forwarding it as is`);
  return device.value;
}

/** Nothing of the pod is left to release: no netns, or the VF itself is gone from the node. */
function podGone(ctx: Context, pci: string | undefined): boolean {
  const netnsGone = !ctx.env.netns || !existsSync(ctx.env.netns);
  const vfGone = pci !== undefined && !existsSync(ctx.node.sysfs.pciDevice(pci));
  return netnsGone || vfGone;
}

async function removeStalePort(ctx: Context, mine: Attachment | undefined): Promise<void> {
  const port = mine?.representor.host ?? representorHostName(ctx.env.containerId, ctx.env.ifname);
  try {
    const done = await ctx.node.ovsdb.deletePort('br-int', port);
    ctx.log.info(done === 'deleted' ? `removed stale port ${port} from br-int` : `no port ${port} on br-int: nothing was left`);
  } catch (err) {
    ctx.log.error(`left port ${port} on br-int: ${(err as Error).message}; remove it with \`ovs-vsctl --if-exists del-port br-int ${port}\``);
  }
}
