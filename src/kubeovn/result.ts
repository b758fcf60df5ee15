import { familyOf, type Result, type ResultRoute } from '../cni/result.js';
import { responseIps, type CniResponse } from './protocol.js';

export interface PodSide {
  ifname: string;
  netns: string;
  /** The VF's PCI address; none for a pod without a VF (shim pass-through). */
  vfPci?: string;
}

export interface HostSide {
  representor: string;
  mac?: string;
}

/**
 * The CNI result kube-ovn's binary builds from the daemon's answer (generateCNIResult), plus
 * the VF as pciID and the representor as a host-side interface. The pod interface stays at
 * index 0, as in kube-ovn's result, so consumers of `ips[].interface` see the same thing.
 */
export function resultFromDaemon(resp: CniResponse, pod: PodSide, host: HostSide | undefined): Result {
  const ips = responseIps(resp);
  const podIface = {
    name: resp.nicname || pod.ifname,
    ...(resp.mac_address ? { mac: resp.mac_address.toLowerCase() } : {}),
    ...(resp.mtu ? { mtu: resp.mtu } : {}),
    sandbox: pod.netns,
    ...(pod.vfPci ? { pciID: pod.vfPci } : {}),
  };
  const hostIface = host && { name: host.representor, ...(host.mac ? { mac: host.mac } : {}) };
  const result: Result = {
    interfaces: hostIface ? [podIface, hostIface] : [podIface],
    ips: ips.map((i) => ({ interface: 0, address: withMask(i.ip, i.cidr), ...(i.gateway ? { gateway: i.gateway } : {}) })),
    routes: routesFrom(resp, ips),
    dns: resp.dns ?? {},
  };
  return result;
}

/** "10.16.0.5" + "10.16.0.0/16" → "10.16.0.5/16"; an address that has a mask keeps it. */
export function withMask(ip: string, cidr: string): string {
  if (ip.includes('/')) return ip;
  const mask = cidr.split('/')[1];
  return mask ? `${ip}/${mask}` : `${ip}/${familyOf(ip) === '6' ? 128 : 32}`;
}

// The daemon's routes as it set them on the pod NIC; a route with no dst is a default route.
// Only when it returned none, one default route per family that has a gateway.
function routesFrom(resp: CniResponse, ips: Array<{ gateway?: string }>): ResultRoute[] {
  const given = resp.routes ?? [];
  if (given.length > 0) {
    return given
      .filter((r) => r.dst || r.gw)
      .map((r) => ({ dst: r.dst || defaultDst(r.gw ?? ''), ...(r.gw ? { gw: r.gw } : {}) }));
  }
  return ips.filter((i) => i.gateway).map((i) => ({ dst: defaultDst(i.gateway!), gw: i.gateway! }));
}

function defaultDst(gw: string): string {
  return familyOf(gw) === '6' ? '::/0' : '0.0.0.0/0';
}
