import * as z from 'zod/mini';
import { Dns } from './config.js';
import { versionAtLeast } from './version.js';

/** A CNI result in the 1.1.0 shape; older versions are produced from it by `forVersion`. */
const Interface = z.looseObject({
  name: z.string(),
  mac: z.optional(z.string()),
  mtu: z.optional(z.number()),
  sandbox: z.optional(z.string()),
  socketPath: z.optional(z.string()),
  pciID: z.optional(z.string()),
});
const IpConfig = z.looseObject({
  interface: z.optional(z.number().check(z.int(), z.nonnegative())),
  address: z.string(),
  gateway: z.optional(z.string()),
  version: z.optional(z.enum(['4', '6'])), // 0.3.x / 0.4.0 only
});
const RouteOut = z.looseObject({
  dst: z.string(),
  gw: z.optional(z.string()),
  mtu: z.optional(z.number()),
  advmss: z.optional(z.number()),
  priority: z.optional(z.number()),
  table: z.optional(z.number()),
  scope: z.optional(z.number()),
});
export const ResultSchema = z.looseObject({
  cniVersion: z.optional(z.string()),
  interfaces: z.optional(z.array(Interface)),
  ips: z.optional(z.array(IpConfig)),
  routes: z.optional(z.array(RouteOut)),
  dns: z.optional(Dns),
  /** Ours: prerequisites that failed under offload.enforce=false, or could not be verified. */
  warnings: z.optional(z.array(z.string())),
});
export type Result = z.infer<typeof ResultSchema>;
export type ResultInterface = z.infer<typeof Interface>;
export type ResultIp = z.infer<typeof IpConfig>;
export type ResultRoute = z.infer<typeof RouteOut>;

const ONLY_1_1 = { interface: ['mtu', 'socketPath', 'pciID'], route: ['mtu', 'advmss', 'priority', 'table', 'scope'] } as const;

/** The result as the given cniVersion expects it (SPEC §"Version considerations"). */
export function forVersion(result: Result, cniVersion: string): Result {
  const modern = versionAtLeast(cniVersion, '1.0.0');
  const full = versionAtLeast(cniVersion, '1.1.0');
  const out: Result = { cniVersion };
  if (result.interfaces?.length) {
    out.interfaces = result.interfaces.map((i) => (full ? { ...i } : omit(i, ONLY_1_1.interface)));
  }
  if (result.ips?.length) {
    out.ips = result.ips.map(({ version: _drop, ...ip }) => (modern ? ip : { version: familyOf(ip.address), ...ip }));
  }
  if (result.routes?.length) {
    out.routes = result.routes.map((r) => (full ? { ...r } : omit(r, ONLY_1_1.route)));
  }
  if (hasDns(result.dns)) out.dns = result.dns;
  if (result.warnings?.length) out.warnings = result.warnings;
  return out;
}

/** "10.16.0.5/16" → "4", "fd00::5/64" → "6". */
export function familyOf(address: string): '4' | '6' {
  return address.includes(':') ? '6' : '4';
}

/** A prevResult of any supported version, or undefined when there is none or it is not a result. */
export function parsePrevResult(raw: unknown): Result | undefined {
  if (raw === undefined || raw === null) return undefined;
  const parsed = ResultSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Our interfaces and IPs appended to a previous plugin's result (SPEC: a chained plugin
 * "MUST pass through" prevResult); our IP indices shift past the earlier interfaces.
 */
export function mergeResults(prev: Result | undefined, ours: Result): Result {
  if (!prev) return ours;
  const offset = prev.interfaces?.length ?? 0;
  return {
    interfaces: [...(prev.interfaces ?? []), ...(ours.interfaces ?? [])],
    ips: [
      ...(prev.ips ?? []),
      ...(ours.ips ?? []).map((ip) => (ip.interface === undefined ? ip : { ...ip, interface: ip.interface + offset })),
    ],
    routes: [...(prev.routes ?? []), ...(ours.routes ?? [])],
    dns: hasDns(ours.dns) ? ours.dns : prev.dns,
  };
}

export function hasDns(d: Result['dns'] | null): boolean {
  return Boolean(d && (d.nameservers?.length || d.domain || d.search?.length || d.options?.length));
}

function omit<T extends object>(obj: T, keys: readonly string[]): T {
  const copy = { ...obj } as Record<string, unknown>;
  for (const k of keys) delete copy[k];
  return copy as T;
}
