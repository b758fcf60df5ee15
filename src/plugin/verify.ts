import type { Pod } from '../kubeovn/request.js';
import type { PortBinding } from '../node/ovsdb.js';
import type { Context } from './context.js';

const POLL_MS = 100;

export type Verdict = { ok: true } | { ok: false; unverified: boolean; why: string };

/**
 * After the daemon's 200 (shim): is the representor a br-int port of this pod that
 * ovn-controller has bound? kube-ovn#2727: a pod ran on a VF with nothing in OVS, and nobody
 * knew. The daemon itself waits for ovn-installed, except for vfio-pci VFs (configureNic
 * returns first, v1.14.0 on) and before v1.14: so a port not bound yet is asked again for
 * up to tool_timeout_s. iface-id is only required to be there: kube-ovn writes a KubeVirt
 * VM's name in it, and from HEAD on the ifname too; pod_netns says whose port it is.
 */
export async function verifyPort(ctx: Context, port: string, pod: Pod): Promise<Verdict> {
  const deadline = Date.now() + ctx.conf.toolTimeoutMs;
  for (;;) {
    let binding: PortBinding | undefined;
    try {
      binding = await ctx.node.ovsdb.portBinding(port);
    } catch (err) {
      return { ok: false, unverified: true, why: (err as Error).message };
    }
    const problem = whatIsWrong(ctx, port, pod, binding);
    if (!problem) return { ok: true };
    if (!problem.waiting || Date.now() >= deadline) return { ok: false, unverified: false, why: problem.why };
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function whatIsWrong(ctx: Context, port: string, pod: Pod, b: PortBinding | undefined): { why: string; waiting?: boolean } | undefined {
  if (!b) return { why: `br-int has no port ${port}: the daemon answered, but the representor is not plugged into OVS` };
  if (b.bridge !== 'br-int') return { why: `port ${port} is on bridge ${b.bridge ?? '(none)'}, not br-int` };
  const ids = b.externalIds ?? {};
  if (!ids['iface-id']) return { why: `port ${port} has no external_ids:iface-id, so OVN cannot bind it to a logical port` };
  if (ids.pod_netns !== undefined && ids.pod_netns !== ctx.env.netns) return { why: `port ${port} belongs to another pod's netns (${ids.pod_netns}), not ${ctx.env.netns}` };
  if (ids.pod_namespace !== undefined && ids.pod_namespace !== pod.namespace) return { why: `port ${port} belongs to namespace ${ids.pod_namespace}, not ${pod.namespace}` };
  if (ids['ovn-installed'] !== 'true') {
    return { why: `ovn-controller has not bound port ${port} (external_ids:ovn-installed is not true after ${ctx.conf.toolTimeoutMs / 1000}s)`, waiting: true };
  }
  return undefined;
}
