import { podIdentity } from '../cni/env.js';
import { CniError, Code } from '../cni/errors.js';
import { representorHostName } from '../kubeovn/naming.js';
import { daemonNamesProblem, delRequest } from '../kubeovn/request.js';
import { rawDeviceId } from '../node/device-id.js';
import { linkInNetns, netnsAlive, returnVfToHost, setLinkDown, setVfMac } from '../node/netns.js';
import { isPciAddress } from '../node/pci.js';
import { findUplink } from '../node/uplink.js';
import { resolveVf } from '../node/vf.js';
import type { Context } from './context.js';
import { LockIoError, lockVf, type Lock } from './lock.js';
import { describeKey, sameAttachment, type Attachment, type AttachmentKey } from './state.js';

/**
 * DEL, best-effort and repeatable (CNI spec): it succeeds run twice, without a record, without
 * a netns, without the VF. Shim mode asks the daemon first; guard mode runs after kube-ovn's
 * binary has (libcni deletes in reverse order) and never calls the daemon. Then, for a VF still
 * this attachment's: while the netns lives, the VF goes back to the host netns (the daemon
 * leaves it in the pod's); once the netns is gone or empty, what the daemon could not do is
 * done here: representor down, br-int port removed, VF MAC reset through the PF.
 */
export async function cmdDel(ctx: Context): Promise<void> {
  const pod = podIdentity(ctx.env);
  const names = daemonNamesProblem(ctx.env);
  if (names) {
    // ADD refused this container ID or ifname, so nothing can have been attached.
    ctx.log.warn(`nothing to delete: ${names.message}`);
    return;
  }
  const key: AttachmentKey = { network: ctx.conf.name, containerId: ctx.env.containerId, ifname: ctx.env.ifname };
  const configured = await configuredDeviceId(ctx);
  const pci = isPciAddress(configured) ? configured : (await recordOf(ctx, key))?.deviceID;
  ctx.log.with({ deviceID: pci ?? (configured || null) });
  if (!pci && !configured) {
    // A pod without a VF: the shim forwards it as kube-ovn's binary would; guard has nothing.
    if (ctx.conf.mode === 'shim') await ctx.daemon.del(delRequest(ctx.env, ctx.conf, pod, ''));
    ctx.log.info('detached (no VF)');
    return;
  }
  const lock: Lock | undefined = pci ? await lockForDel(ctx, pci) : undefined;
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
    const other = held && !mine ? held : undefined;
    if (other) {
      // The VF went to another pod before this DEL: leave its VF alone (no MAC reset), clean only ours.
      ctx.log.warn(`VF ${pci} now belongs to ${describeKey(other)}; deleting ${describeKey(key)} without touching the VF`);
    }
    ctx.log.with({ representor: mine?.representor.host ?? null, uplink: mine?.uplink ?? null });
    const alive = await netnsAlive(ctx.env.netns);
    // In guard mode kube-ovn's binary deleted before us: libcni would not have reached us otherwise.
    const daemonDone = ctx.conf.mode === 'guard' || (await daemonDel(ctx, pod, other ? '' : pci ?? configured, alive, pci));
    if (mine && alive && daemonDone) await giveVfBack(ctx, mine);
    // An empty CNI_NETNS (containerd's DEL from RemovePodSandbox) makes the daemon do nothing:
    // then only a record, ours or the VF's new holder's, says there is a port of ours to clean.
    else if (mine || (!held && !daemonDone && ctx.env.netns !== '') || (other && ctx.env.netns === '')) await cleanUpAfterPod(ctx, mine);
    if (other && ctx.conf.mode === 'guard' && alive) await restoreHolderMac(ctx, other);
    if (mine || (unreadable && pci)) await forget(ctx, mine?.deviceID ?? pci!);
    ctx.log.info('detached');
  } finally {
    await lock?.release();
  }
}

/**
 * The VF's lock; on a disk that cannot hold it (read-only, full) or with an odd file at its
 * path, DEL goes on without it rather than leave the pod undeletable: the log says so.
 */
async function lockForDel(ctx: Context, pci: string): Promise<Lock | undefined> {
  try {
    return await lockVf(ctx.state.lockDir, pci, ctx.conf.lockTimeoutMs);
  } catch (err) {
    if (!(err instanceof LockIoError)) throw err;
    ctx.log.warn(`deleting without the VF's lock: ${err.message} (${err.details})`);
    return undefined;
  }
}

/** Removes the record; one that cannot be removed (a read-only or broken state_dir) is logged, not fatal. */
async function forget(ctx: Context, pci: string): Promise<void> {
  try {
    await ctx.state.remove(pci);
  } catch (err) {
    ctx.log.warn(`record of VF ${pci} not removed, the next ADD on it checks its holder again: ${(err as Error).message}`);
  }
}

/** The record of this attachment, when DEL was given no deviceID; a state dir that cannot be read is no record. */
async function recordOf(ctx: Context, key: AttachmentKey): Promise<Attachment | undefined> {
  return ctx.state.find(key).catch((err: Error) => {
    ctx.log.warn(`records not searched: ${err.message}`);
    return undefined;
  });
}

/**
 * The daemon's DEL; true when it tore down. When it cannot (it answers 500 for an offload DEL
 * whose netns is gone, docs/upstream.md#kube-ovn-handledel-and-deletenic; or it is not there at all) and the pod's netns or VF is
 * gone, false: the caller cleans up, so that a DEL for a pod that is no more can succeed.
 */
async function daemonDel(ctx: Context, pod: { name: string; namespace: string }, deviceId: string, alive: boolean, pci: string | undefined): Promise<boolean> {
  try {
    await ctx.daemon.del(delRequest(ctx.env, ctx.conf, pod, deviceId));
    return ctx.env.netns !== '';
  } catch (err) {
    const vfGone = pci !== undefined && (await ctx.node.sysfs.list(ctx.node.sysfs.pciDevice(pci))).length === 0;
    if (!(err instanceof CniError) || err.code !== Code.TryAgainLater || (alive && !vfGone)) throw err;
    ctx.log.warn(`the daemon could not delete (${err.message}); the pod's netns or VF is gone, cleaning up here`);
    return false;
  }
}

async function giveVfBack(ctx: Context, mine: Attachment): Promise<void> {
  // vfio-pci VFs have no netdev to bring back; neither do records of releases before this one.
  if (!mine.vfNetdev) return void ctx.log.info(`no VF netdev on record for ${mine.deviceID}: nothing to bring back to the host`);
  try {
    ctx.log.info(await returnVfToHost(ctx.node.run, ctx.env.netns, { original: mine.vfNetdev, ifname: ctx.env.ifname }));
  } catch (err) {
    // The pod is deleted either way; the next pod on this VF gets 11 until the netns is destroyed.
    ctx.log.error(`VF ${mine.deviceID} left in ${ctx.env.netns}: ${(err as Error).message}`);
  }
}

/**
 * What the daemon's deleteNic would have done had it been able to enter the netns: the
 * representor down, its br-int port removed, and (for a VF still this attachment's) the VF's
 * MAC reset through the PF, so that the next pod, or a Kata guest, does not inherit it. A port
 * that cannot be removed fails the DEL (11), record kept, for the runtime to retry, as the
 * daemon's own DEL fails when ovs-vsctl does; the other steps are logged.
 */
async function cleanUpAfterPod(ctx: Context, mine: Attachment | undefined): Promise<void> {
  const port = mine?.representor.host ?? representorHostName(ctx.env.containerId, ctx.env.ifname);
  try {
    if (await setLinkDown(ctx.node.run, port)) ctx.log.info(`representor ${port} set down`);
  } catch (err) {
    ctx.log.warn(`representor ${port} not set down: ${(err as Error).message}`);
  }
  try {
    const done = await ctx.node.ovsdb.deletePort('br-int', port);
    ctx.log.info(done === 'deleted' ? `removed stale port ${port} from br-int` : `no port ${port} on br-int: nothing was left`);
  } catch (err) {
    throw new CniError(Code.TryAgainLater, `port ${port} of a deleted pod cannot be removed from br-int`, `${(err as Error).message}; the runtime retries DEL. By hand: \`ovs-vsctl --if-exists del-port br-int ${port}\``);
  }
  if (!mine) return;
  const target = await macTarget(ctx, mine);
  if (!target) return;
  try {
    await setVfMac(ctx.node.run, target.netdev, target.index, '00:00:00:00:00:00');
    ctx.log.info(`VF ${target.index} MAC reset through ${target.netdev}`);
  } catch (err) {
    ctx.log.warn(`VF ${mine.deviceID}'s MAC not reset: ${(err as Error).message}`);
  }
}

/**
 * kube-ovn's DEL, which ran before ours, reset the VF's MAC through the PF for the deviceID it
 * was given (deleteNic's setVfMac), although our ADD refused this pod and the VF is the live
 * holder's. Put the holder's MAC back, read from its interface in its netns.
 */
async function restoreHolderMac(ctx: Context, holder: Attachment): Promise<void> {
  try {
    if (!(await netnsAlive(holder.netns))) return;
    const link = await linkInNetns(ctx.node.run, holder.netns, holder.ifname);
    const target = await macTarget(ctx, holder);
    if (!link?.mac || !target) return void ctx.log.warn(`VF ${holder.deviceID}'s MAC, which kube-ovn's DEL reset, not restored for ${describeKey(holder)}: its interface or PF is not found`);
    await setVfMac(ctx.node.run, target.netdev, target.index, link.mac);
    ctx.log.info(`VF ${target.index} MAC ${link.mac} restored through ${target.netdev} for ${describeKey(holder)}, after kube-ovn's DEL of this refused pod reset it`);
  } catch (err) {
    ctx.log.warn(`VF ${holder.deviceID}'s MAC not restored for ${describeKey(holder)}: ${(err as Error).message}`);
  }
}

/**
 * The PF netdev and VF index to set a VF's MAC through, read again from sysfs: the record's
 * names may be stale (netdevs renamed, VFs re-created), and a wrong index would hit another
 * pod's VF. Undefined, logged, when sysfs no longer shows this VF as that PF's VF N.
 */
async function macTarget(ctx: Context, a: Attachment): Promise<{ netdev: string; index: number } | undefined> {
  try {
    const vf = await resolveVf(ctx.node.sysfs, a.deviceID);
    const uplink = (await findUplink(ctx.node.sysfs, vf.pf)).uplink;
    if (vf.pf === a.pf && vf.index === a.vfIndex && uplink) return { netdev: uplink, index: vf.index };
    ctx.log.warn(`VF ${a.deviceID}'s MAC left alone: sysfs shows VF ${vf.index} of ${vf.pf} (uplink ${uplink ?? 'none'}), the record VF ${a.vfIndex} of ${a.pf}`);
  } catch (err) {
    ctx.log.warn(`VF ${a.deviceID}'s MAC left alone: ${(err as Error).message}`);
  }
  return undefined;
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
