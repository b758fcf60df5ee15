/**
 * Which topology a plugin list shows (docs/topologies.md), and what is wrong with it. Pure: the lists
 * come from cni-conf.ts.
 */
import type { PluginEntry } from './cni-conf.js';

export const OFFLOAD_TYPE = 'kube-ovn-offload';
export const KUBE_OVN_TYPE = 'kube-ovn';

/** "[kube-ovn-offload (guard), kube-ovn, portmap]" */
export function chainText(plugins: PluginEntry[]): string {
  return `[${plugins.map((p) => (p.type === OFFLOAD_TYPE ? `${OFFLOAD_TYPE} (${modeText(p)})` : p.type ?? '?')).join(', ')}]`;
}

function modeText(p: PluginEntry): string {
  return p.mode === undefined ? 'guard' : typeof p.mode === 'string' ? p.mode : JSON.stringify(p.mode);
}

/** What one list is: no kube-ovn-offload in it, a working order for a mode, or a broken order and why. */
export type Layout =
  | { kind: 'none' }
  | { kind: 'guard' | 'shim'; requireVf: boolean }
  | { kind: 'broken'; why: string; fix: string };

const MANIFESTS = 'kube-ovn-offload manifests prints both';

export function layoutOf(plugins: PluginEntry[]): Layout {
  const ours = plugins.flatMap((p, i) => (p.type === OFFLOAD_TYPE ? [i] : []));
  if (ours.length === 0) return { kind: 'none' };
  if (ours.length > 1) return { kind: 'broken', why: `${OFFLOAD_TYPE} is in the list ${ours.length} times`, fix: 'keep one entry' };
  const at = ours[0]!;
  const entry = plugins[at]!;
  const kubeOvn = plugins.flatMap((p, i) => (p.type === KUBE_OVN_TYPE ? [i] : []));
  const mode = entry.mode ?? 'guard';
  if (mode !== 'guard' && mode !== 'shim') {
    // The plugin's own schema (src/cni/config.ts) refuses it: code 7 for every pod.
    return { kind: 'broken', why: `"mode": ${JSON.stringify(mode)} is neither "guard" nor "shim": the plugin refuses every pod (code 7)`, fix: 'set "mode": "guard" or "shim"' };
  }
  const requireVf = (entry.offload as { require_vf?: unknown } | undefined)?.require_vf;
  if (mode === 'guard') {
    if (kubeOvn.length === 0) {
      return {
        kind: 'broken',
        why: `${OFFLOAD_TYPE} in guard mode with no kube-ovn after it, the layout where it replaced "type": "kube-ovn": nothing asks the kube-ovn daemon for the pod's NIC, and kube-ovn-controller allocates no address on a network without a kube-ovn plugin (IsOvnNetwork)`,
        fix: `[kube-ovn-offload (guard), kube-ovn, portmap], or "mode": "shim" in Multus's clusterNetwork NAD (README, "Two topologies"; ${MANIFESTS})`,
      };
    }
    if (kubeOvn.every((k) => k < at)) {
      return {
        kind: 'broken',
        why: `${OFFLOAD_TYPE} (guard) comes after kube-ovn: kube-ovn has plumbed the VF before the checks run, and on DEL ours runs first`,
        fix: `move ${OFFLOAD_TYPE} before kube-ovn: [kube-ovn-offload (guard), kube-ovn, portmap]`,
      };
    }
    return { kind: 'guard', requireVf: requireVf !== false };
  }
  if (kubeOvn.length > 0) {
    return {
      kind: 'broken',
      why: `${OFFLOAD_TYPE} (shim) and kube-ovn in one list: both forward the pod to the kube-ovn daemon`,
      fix: `drop kube-ovn ([kube-ovn-offload (shim), portmap]), or set "mode": "guard"`,
    };
  }
  return { kind: 'shim', requireVf: requireVf === true };
}
