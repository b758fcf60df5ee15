import { existsSync } from 'node:fs';
import { podIdentity } from '../cni/env.js';
import { CniError, Code } from '../cni/errors.js';
import { mergeResults, parsePrevResult, type Result } from '../cni/result.js';
import { representorHostName } from '../kubeovn/naming.js';
import { DaemonAnswerError } from '../kubeovn/client.js';
import { responseIps } from '../kubeovn/protocol.js';
import { requireDeviceId } from '../node/device-id.js';
import { enableIpv6 } from '../node/netns.js';
import { representorFromSysfs } from '../node/representor.js';
import type { Vf } from '../node/vf.js';
import type { Context } from './context.js';
import { resultFromDaemon, type HostSide } from './daemon-result.js';
import { enforce } from './enforce.js';
import { lockVf } from './lock.js';
import { preflight } from './preflight.js';
import { addRequest, delRequest, requireDaemonContainerId, type Pod } from './request.js';
import { describeKey, sameAttachment, type AttachmentKey } from './state.js';

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

  const lock = await lockVf(ctx.state.lockDir, device.pci, ctx.conf.lockTimeoutMs);
  try {
    const key: AttachmentKey = { network: ctx.conf.name, containerId: ctx.env.containerId, ifname: ctx.env.ifname };
    await refuseIfHeld(ctx, device.pci, key);
    return await attach(ctx, pod, device.pci, key, prev);
  } finally {
    await lock.release();
  }
}

async function attach(ctx: Context, pod: Pod, pci: string, key: AttachmentKey, prev: Result | undefined): Promise<Result> {
  const report = await preflight(ctx.node, pci, ctx.conf, { vfInHost: true });
  const { vf, uplink, representor } = report.facts;
  ctx.log.with({ uplink, representor: representor?.name });
  const warnings = enforce(ctx, report);

  if ((await enableIpv6(ctx.node.run, ctx.env.netns)) === 'absent') {
    warnings.push('IPv6 sysctls of the pod netns not set: nsenter is not installed');
    ctx.log.warn(warnings.at(-1)!);
  }
  const resp = await ctx.daemon.add(addRequest(ctx, pod, pci)).catch(async (err: unknown) => {
    if (err instanceof DaemonAnswerError) await rollback(ctx, pod, pci, err.message);
    throw err;
  });
  const host = representor ? await representorNow(ctx, vf) : undefined;
  ctx.log.info('attached', { representor: host?.representor, ips: responseIps(resp).map((i) => i.ip) });

  const ours = resultFromDaemon(resp, { ifname: ctx.env.ifname, netns: ctx.env.netns, vfPci: vf.pci }, host);
  const result = { ...mergeResults(prev, ours), ...(warnings.length > 0 ? { warnings } : {}) };
  try {
    await ctx.state.put({
      version: 1, ...key, netns: ctx.env.netns, pod, deviceID: pci, pf: vf.pf, uplink, vfIndex: vf.index,
      representor: { original: representor?.name, host: host?.representor }, result: ours, createdAt: new Date().toISOString(),
    });
  } catch (err) {
    // Without a record DEL could lose track of this VF: undo the attachment instead.
    await rollback(ctx, pod, pci, (err as Error).message);
    throw err;
  }
  return result;
}

/** Undoes what the daemon may have done, best-effort, and says so in the log. */
async function rollback(ctx: Context, pod: Pod, pci: string, why: string): Promise<void> {
  ctx.log.error(`ADD failed after the daemon may have attached the pod; asking it to detach: ${why}`);
  await ctx.daemon.del(delRequest(ctx, pod, pci)).then(
    () => ctx.log.info('rolled back: the daemon detached the pod'),
    (e: Error) => ctx.log.error(`rollback failed, the pod may be half attached: ${e.message}`),
  );
}

/**
 * A VF that another live attachment holds is refused: the device plugin gave it out again
 * before the old pod's DEL finished. A holder whose netns is gone is stale and taken over.
 */
async function refuseIfHeld(ctx: Context, pci: string, key: AttachmentKey): Promise<void> {
  const held = await ctx.state.get(pci);
  if (!held || sameAttachment(held, key)) return;
  if (held.netns && existsSync(held.netns)) {
    throw new CniError(Code.TryAgainLater, `VF ${pci} is still attached to pod ${held.pod.namespace}/${held.pod.name}`, `attachment ${describeKey(held)} in ${held.netns} holds it; its DEL has not run yet. If that pod is gone, delete its netns or ${ctx.state.vfDir}/${pci}.json`);
  }
  ctx.log.warn(`VF ${pci} was recorded for ${describeKey(held)}, whose netns ${held.netns || '(none)'} is gone; taking it over`);
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
