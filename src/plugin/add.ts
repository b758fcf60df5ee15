import { podIdentity } from '../cni/env.js';
import { CniError, Code } from '../cni/errors.js';
import { preview } from '../cni/preview.js';
import { mergeResults, parsePrevResult, type Result } from '../cni/result.js';
import { representorHostName } from '../kubeovn/naming.js';
import { DaemonAnswerError, daemonMayHaveActed } from '../kubeovn/client.js';
import { responseIps } from '../kubeovn/protocol.js';
import { addRequest, daemonNamesProblem, delRequest, type Pod } from '../kubeovn/request.js';
import { resultFromDaemon, type HostSide } from '../kubeovn/result.js';
import { requireDeviceId, findDeviceId } from '../node/device-id.js';
import { updateDeviceInfo } from '../node/device-info.js';
import { enableIpv6, netnsAlive } from '../node/netns.js';
import { representorFromSysfs } from '../node/representor.js';
import type { Vf } from '../node/vf.js';
import type { Context } from './context.js';
import { enforce } from './enforce.js';
import { lockVf } from './lock.js';
import { verifyPort } from './verify.js';
import { preflight, type OffloadFacts } from './preflight.js';
import { describeKey, sameAttachment, type Attachment, type AttachmentKey } from './state.js';

/**
 * ADD (docs/architecture.md#one-add, docs/topologies.md). With a VF: find it and its representor, check offload can work, lock and
 * record the VF; then in guard mode leave the daemon to kube-ovn's binary, next in the list,
 * and in shim mode ask the daemon ourselves. Without a VF: 101, or pass straight through.
 */
export async function cmdAdd(ctx: Context): Promise<Result> {
  const pod = podIdentity(ctx.env); // checked before any work, as kube-ovn does
  const names = daemonNamesProblem(ctx.env);
  if (names) throw names;
  const prev = prevResultOf(ctx);
  const device = ctx.conf.offload.requireVf ? await requireDeviceId(ctx.conf.deviceIdSources) : await findDeviceId(ctx.conf.deviceIdSources);
  if (!device) {
    ctx.log.info(`no deviceID: passing through without offload checks (${ctx.conf.mode} mode, offload.require_vf false)`);
    return ctx.conf.mode === 'shim' ? mergeResults(prev, (await forward(ctx, pod, undefined)).result) : prev ?? {};
  }
  ctx.log.with({ deviceID: device.pci });

  const lock = await lockVf(ctx.state.lockDir, device.pci, ctx.conf.lockTimeoutMs);
  try {
    const key: AttachmentKey = { network: ctx.conf.name, containerId: ctx.env.containerId, ifname: ctx.env.ifname };
    await refuseIfHeld(ctx, device.pci, key);
    const host = representorHostName(ctx.env.containerId, ctx.env.ifname);
    // Looked up beside the checks; acted on only for a pod that passes them. With
    // offload.check_ovs false the plugin leaves OVSDB alone altogether.
    const portOwner = ctx.conf.offload.checkOvs ? ctx.node.ovsdb.interfaceExternalIds(host).catch((err: Error) => err) : undefined;
    const report = await preflight(ctx.node, device.pci, ctx.conf, { vfInHost: true });
    ctx.log.with({ uplink: report.facts.uplink, representor: report.facts.representor?.name });
    const warnings = enforce(ctx, report);
    await clearStalePort(ctx, host, await portOwner);
    const attach = ctx.conf.mode === 'shim' ? attachShim : attachGuard;
    const attached = await attach(ctx, { pod, key, host, facts: report.facts, prev });
    const { result, representor } = attached;
    await noteDeviceInfo(ctx, report.facts, representor);
    warnings.push(...(attached.warnings ?? []), ...vfioMtuWarning(ctx, report.facts, result));
    return warnings.length > 0 ? { ...result, warnings: [...(result.warnings ?? []), ...warnings] } : result;
  } finally {
    await lock.release();
  }
}

interface Attaching {
  pod: Pod;
  key: AttachmentKey;
  /** The representor's name once kube-ovn's daemon has renamed it (generateNicName). */
  host: string;
  facts: OffloadFacts;
  prev: Result | undefined;
}

/**
 * Guard: record the VF under the representor name kube-ovn's daemon will give it, and answer
 * with nothing of our own: kube-ovn's binary parses our result as prevResult, ignores it, and
 * its result becomes the chain's.
 */
async function attachGuard(ctx: Context, a: Attaching): Promise<Attached> {
  await ctx.state.put(record(ctx, a, a.host, {}));
  ctx.log.info('checked; kube-ovn, next in the list, attaches the pod', { representor: a.facts.representor?.name, renamedTo: a.host });
  return { result: a.prev ?? {}, representor: a.host };
}

interface Attached {
  result: Result;
  /** The representor's name once the pod is attached (guard: the name kube-ovn will give it). */
  representor?: string;
  /** What the attachment could not make sure of, after the checks' own warnings. */
  warnings?: string[];
}

/**
 * Shim: ask the daemon as kube-ovn's binary would. The VF is recorded before the daemon is
 * asked, so that a DEL finds it even when the answer never comes (a timeout, a kill), and
 * forgotten again only when the daemon certainly did nothing.
 */
async function attachShim(ctx: Context, a: Attaching): Promise<Attached> {
  const { vf, representor } = a.facts;
  let asked = false;
  const hostSide = representor ? () => representorNow(ctx, vf) : undefined;
  const beforeAsking = async () => {
    await ctx.state.put(record(ctx, a, a.host, {}));
    asked = true;
  };
  let forwarded: Awaited<ReturnType<typeof forward>>;
  try {
    forwarded = await forward(ctx, a.pod, vf, { hostSide, beforeAsking });
  } catch (err) {
    if (asked && !daemonMayHaveActed(err)) await ctx.state.remove(vf.pci).catch((e: Error) => ctx.log.warn(`record of VF ${vf.pci} kept: ${e.message}`));
    throw err;
  }
  try {
    await ctx.state.put(record(ctx, a, forwarded.host?.representor, forwarded.result));
  } catch (err) {
    // The VF is on record as this attachment's already; the daemon is asked to detach it again.
    await rollback(ctx, a.pod, vf.pci, (err as Error).message);
    throw err;
  }
  const warning = await verifiedOrRefused(ctx, a, forwarded.host?.representor ?? a.host);
  return { result: mergeResults(a.prev, forwarded.result), representor: forwarded.host?.representor, warnings: warning ? [warning] : [] };
}

/**
 * The daemon's 200 says the pod is plumbed; OVSDB says whether OVN will carry its traffic.
 * A port that is not a bound br-int port of this pod is a warning, or with offload.verify
 * strict a refusal (110) after the daemon undid the attachment. An unreachable OVSDB is a
 * warning in both; with offload.check_ovs false OVSDB is not asked.
 */
async function verifiedOrRefused(ctx: Context, a: Attaching, port: string): Promise<string | undefined> {
  if (!ctx.conf.offload.checkOvs) return void ctx.log.info(`port ${port} not verified: offload.check_ovs is false`);
  const verdict = await verifyPort(ctx, port, a.pod);
  if (verdict.ok) {
    ctx.log.info(`verified: port ${port} is on br-int and bound by ovn-controller`);
    return undefined;
  }
  if (verdict.unverified) {
    const warning = `port ${port} not verified: ${verdict.why}`;
    ctx.log.warn(warning);
    return warning;
  }
  if (ctx.conf.offload.verify === 'strict') {
    // The record stays: the runtime's DEL, which follows a failed ADD, brings the VF back to the host.
    await rollback(ctx, a.pod, a.facts.vf.pci, verdict.why);
    throw new CniError(Code.PortNotBound, `the pod is not connected to OVN: ${verdict.why}`, `offload.verify is strict, so the attachment was undone. \`ovs-vsctl --columns=name,external_ids list interface ${port}\` shows the port; the ovs-ovn pod's log on this node says why ovn-controller did not bind it`);
  }
  const warning = `the pod may not be connected to OVN: ${verdict.why}`;
  ctx.log.warn(warning);
  return warning;
}

/**
 * A secondary network's device-info file (Multus passes its path when the NAD entry declares
 * the CNIDeviceInfoFile capability) gains the PF and the representor, for the pod's
 * network-status. The pod is attached by now: a failure is logged, never the ADD's.
 */
async function noteDeviceInfo(ctx: Context, facts: OffloadFacts, representor: string | undefined): Promise<void> {
  const path = ctx.conf.deviceIdSources.deviceInfoFile;
  if (!path) return;
  try {
    ctx.log.info(`device-info ${path}: ${await updateDeviceInfo(path, { vf: facts.vf.pci, pf: facts.vf.pf, representor })}`);
  } catch (err) {
    ctx.log.warn(`device-info ${path} not updated: ${(err as Error).message}`);
  }
}

/**
 * A VF bound to vfio-pci is plumbed into a VM or a DPDK application, which sets its own MTU;
 * above the pod network's, TCP breaks (kube-ovn#2155). Said in the log and the result.
 */
function vfioMtuWarning(ctx: Context, facts: OffloadFacts, result: Result): string[] {
  if (facts.vf.driver !== 'vfio-pci') return [];
  const mtu = result.interfaces?.find((i) => i.pciID === facts.vf.pci)?.mtu;
  const limit = mtu ? `${mtu}, the pod network's MTU` : "the pod network's MTU (the mtu in kube-ovn's result, its Subnet's)";
  const warning = `VF ${facts.vf.pci} is bound to vfio-pci: the guest or DPDK application sets its own MTU, which must be at most ${limit}, or TCP breaks (kube-ovn#2155)`;
  ctx.log.warn(warning);
  return [warning];
}

function record(ctx: Context, a: Attaching, host: string | undefined, result: Result): Attachment {
  const { vf, uplink, representor } = a.facts;
  return {
    version: 1, ...a.key, mode: ctx.conf.mode, netns: ctx.env.netns, pod: a.pod, deviceID: vf.pci, pf: vf.pf, uplink, vfIndex: vf.index,
    vfNetdev: vf.netdevs[0], representor: { original: representor?.name, host }, result, createdAt: new Date().toISOString(),
  };
}

/**
 * What kube-ovn's binary does (cmd/cni cmdAdd): IPv6 on in the pod netns, POST /api/v1/add,
 * the result built from the answer. With a VF, the result also names it (pciID) and the
 * representor as the daemon left it.
 */
async function forward(ctx: Context, pod: Pod, vf: Vf | undefined, opts: { hostSide?: () => Promise<HostSide>; beforeAsking?: () => Promise<void> } = {}): Promise<{ result: Result; host?: HostSide }> {
  if ((await enableIpv6(ctx.node.run, ctx.env.netns)) === 'absent') {
    throw new CniError(Code.IOFailure, 'nsenter is not installed', `the shim turns IPv6 on in the pod netns ${ctx.env.netns} before asking the daemon, as kube-ovn's binary does; install util-linux on the node`);
  }
  await opts.beforeAsking?.();
  const resp = await ctx.daemon.add(addRequest(ctx.env, ctx.conf, pod, vf?.pci ?? '')).catch(async (err: unknown) => {
    if (err instanceof DaemonAnswerError) await rollback(ctx, pod, vf?.pci ?? '', err.message);
    throw err;
  });
  const host = await opts.hostSide?.();
  ctx.log.info('attached', { representor: host?.representor, ips: responseIps(resp).map((i) => i.ip) });
  return { result: resultFromDaemon(resp, { ifname: ctx.env.ifname, netns: ctx.env.netns, vfPci: vf?.pci }, host), host };
}

/** Undoes what the daemon may have done, best-effort, and says so in the log. */
async function rollback(ctx: Context, pod: Pod, pci: string, why: string): Promise<void> {
  ctx.log.error(`ADD failed after the daemon may have attached the pod; asking it to detach: ${why}`);
  await ctx.daemon.del(delRequest(ctx.env, ctx.conf, pod, pci)).then(
    () => ctx.log.info('rolled back: the daemon detached the pod'),
    (e: Error) => ctx.log.error(`rollback failed, the pod may be half attached: ${e.message}`),
  );
}

function prevResultOf(ctx: Context): Result | undefined {
  if (ctx.conf.prevResult === undefined) return undefined;
  const prev = parsePrevResult(ctx.conf.prevResult);
  if (!prev) throw new CniError(Code.InvalidConfig, 'prevResult is not a CNI result', preview(ctx.conf.prevResult, 300));
  return prev;
}

/**
 * A VF that another live attachment holds is refused: the device plugin gave it out again
 * before the old pod's DEL finished (11), or Multus gave this very pod the same VF for a
 * second network (7). A holder whose netns is no longer a namespace is stale and taken over:
 * nothing may depend on a DEL arriving (kube-ovn's DEL can fail first, Multus can skip it).
 */
async function refuseIfHeld(ctx: Context, pci: string, key: AttachmentKey): Promise<void> {
  const held = await ctx.state.get(pci);
  if (!held || sameAttachment(held, key)) return;
  if (held.containerId === key.containerId) {
    throw new CniError(Code.InvalidConfig, `VF ${pci} is already this pod's, as ${held.network}/${held.ifname}`, `Multus hands the default network and a secondary NetworkAttachmentDefinition with the same resourceName the same first VF; the offload resource must not also be used by a secondary network (attachment ${describeKey(key)})`);
  }
  if (await netnsAlive(held.netns)) {
    throw new CniError(Code.TryAgainLater, `VF ${pci} is still attached to pod ${held.pod.namespace}/${held.pod.name}`, `attachment ${describeKey(held)} in ${held.netns} holds it; its DEL has not run yet. If that pod is gone, delete its netns or ${ctx.state.vfDir}/${pci}.json`);
  }
  ctx.log.warn(`VF ${pci} was recorded for ${describeKey(held)}, whose netns ${held.netns || '(none)'} is gone; taking it over`);
  // Its DEL may never come: the port kube-ovn made for it goes with it.
  const port = held.representor.host;
  if (!port || !ctx.conf.offload.checkOvs) return;
  await ctx.node.ovsdb.deletePort('br-int', port).then(
    (done) => done === 'deleted' && ctx.log.warn(`removed br-int port ${port} of ${describeKey(held)}`),
    (err: Error) => ctx.log.warn(`br-int port ${port} of ${describeKey(held)} left: ${err.message}`),
  );
}

/**
 * A br-int port already named as the representor will be (kube-ovn's renameLink would hand it
 * to a new netdev): left alone when it is this attachment's own (a retried ADD), removed when
 * its pod's netns is gone, refused (11) while that pod lives. OVSDB out of reach: the hw-offload
 * check has said so; nothing is removed.
 */
async function clearStalePort(ctx: Context, port: string, owner: Record<string, string> | undefined | Error): Promise<void> {
  if (owner instanceof Error) return void ctx.log.warn(`br-int port ${port} not looked up: ${owner.message}`);
  if (!owner) return;
  const netns = owner.pod_netns ?? '';
  if (netns === ctx.env.netns) return;
  const of = `pod ${owner.pod_namespace ?? '?'}/${owner.pod_name ?? '?'}`;
  if (await netnsAlive(netns)) {
    throw new CniError(Code.TryAgainLater, `br-int already has a port ${port}, of ${of}`, `its netns ${netns} is alive, and kube-ovn would give this pod's representor the same name; the kubelet retries once that pod is deleted`);
  }
  const done = await ctx.node.ovsdb.deletePort('br-int', port);
  ctx.log.warn(`${done === 'deleted' ? 'removed' : 'found gone'} stale br-int port ${port} of ${of}, whose netns ${netns || '(none)'} is gone`);
}

/**
 * The representor as it is after the daemon renamed it. The pod is plumbed by now, so a
 * failed read must not fail the ADD: fall back to the name the daemon gives it.
 */
async function representorNow(ctx: Context, vf: Vf): Promise<HostSide> {
  const { sysfs } = ctx.node;
  const renamed = representorHostName(ctx.env.containerId, ctx.env.ifname);
  try {
    const name = await representorFromSysfs(sysfs, vf.pf, vf.index, renamed);
    if (name) return { representor: name, mac: await sysfs.read(sysfs.netdev(name, 'address')) };
  } catch (err) {
    ctx.log.warn(`representor of VF ${vf.pci} not re-read after ADD: ${(err as Error).message}`);
  }
  return { representor: renamed };
}
