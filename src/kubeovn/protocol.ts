import * as z from 'zod/mini';
// The daemon speaks the netconf's route and CNI's DNS shapes (kube-ovn's request.Route, types.DNS).
import { Dns, Route } from '../cni/config.js';
import { familyOf } from '../cni/result.js';


/**
 * kube-ovn's CniRequest (pkg/request/cniserver.go, v1.13 → v1.17). No field is omitempty
 * in Go, so every key is always sent, with the same names and JSON types.
 */
export const CniRequest = z.strictObject({
  cni_type: z.literal('kube-ovn'),
  pod_name: z.string(),
  pod_namespace: z.string(),
  container_id: z.string(),
  net_ns: z.string(),
  if_name: z.string(),
  provider: z.string(),
  routes: z.nullable(z.array(Route)),
  dns: Dns,
  vf_driver: z.string(),
  deviceID: z.string(),
  vhost_user_socket_volume_name: z.string(),
  vhost_user_socket_name: z.string(),
  vhost_user_socket_consumption: z.string(),
});
export type CniRequest = z.infer<typeof CniRequest>;

const IpConfig = z.object({
  protocol: z.optional(z.string()),
  ip: z.string(),
  cidr: z.string(),
  gateway: z.optional(z.string()),
});

const Common = {
  mac_address: z.optional(z.string()),
  routes: z.nullish(z.array(Route)),
  mtu: z.optional(z.number()),
  nicname: z.optional(z.string()),
  dns: z.nullish(Dns),
  error: z.optional(z.string()),
};

/** ≥ v1.16: one `ips[]` entry per family. */
const ResponseV116 = z.object({ ips: z.nullable(z.array(IpConfig)), ...Common });
/** ≤ v1.15: "Dual" families as comma lists in address/cidr/gateway, v4 first. */
const ResponseLegacy = z.object({
  protocol: z.string(),
  address: z.string(),
  cidr: z.string(),
  gateway: z.optional(z.string()),
  ...Common,
});

export const CniResponse = z.union([ResponseV116, ResponseLegacy]);
export type CniResponse = z.infer<typeof CniResponse>;

export interface DaemonIp {
  ip: string;
  cidr: string;
  gateway?: string;
}

/** Both response shapes as one list of addresses, v4 before v6 as the daemon orders them. */
export function responseIps(resp: CniResponse): DaemonIp[] {
  if ('ips' in resp) {
    return (resp.ips ?? []).map((i) => ({ ip: i.ip, cidr: i.cidr, ...(i.gateway ? { gateway: i.gateway } : {}) }));
  }
  const addresses = splitList(resp.address);
  const cidrs = splitList(resp.cidr);
  const gateways = splitList(resp.gateway ?? '');
  // Pair by family, as kube-ovn's binary does: each address goes with the cidr of its family.
  return addresses.map((ip) => {
    const fam = familyOf(ip);
    const cidr = cidrs.find((c) => familyOf(c) === fam) ?? '';
    const gateway = gateways.find((g) => familyOf(g) === fam);
    return { ip, cidr, ...(gateway ? { gateway } : {}) };
  });
}

function splitList(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}
