import { z } from 'zod';
import { CniError, Code } from './errors.js';

/** {"dst": "...", "gw": "..."}, each omitted when empty: netconf `routes`, as kube-ovn reads them. */
export const Route = z.object({ dst: z.string().optional(), gw: z.string().optional() });
export type Route = z.infer<typeof Route>;

export const Dns = z.object({
  nameservers: z.array(z.string()).optional(),
  domain: z.string().optional(),
  search: z.array(z.string()).optional(),
  options: z.array(z.string()).optional(),
});
export type Dns = z.infer<typeof Dns>;

const MAX_TIMEOUT_S = 2_147_483;

const LogLevel = z.enum(['debug', 'info', 'warn', 'error']);
export type LogLevel = z.infer<typeof LogLevel>;

/** What users write in the NetworkAttachmentDefinition (DESIGN §2.2). Unknown keys pass. */
const NetConf = z.looseObject({
  cniVersion: z.string(),
  name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'network name must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$'),
  type: z.string().optional(),
  server_socket: z.string().min(1).optional(),
  provider: z.string().optional(),
  routes: z.array(Route).nullish(),
  dns: Dns.optional(),
  vf_driver: z.string().optional(),
  deviceID: z.string().optional(),
  pciBusID: z.string().optional(),
  ipam: z.looseObject({
    type: z.string().optional(),
    server_socket: z.string().min(1).optional(),
    provider: z.string().optional(),
    routes: z.array(Route).nullish(),
  }).optional(),
  vhost_user_socket_volume_name: z.string().optional(),
  vhost_user_socket_name: z.string().optional(),
  vhost_user_socket_consumption: z.string().optional(),
  // Loose: a key a newer release adds must not refuse pods on a node still running this one.
  offload: z.looseObject({
    enforce: z.boolean().optional(),
    allow_bond: z.boolean().optional(),
    check_ovs: z.boolean().optional(),
  }).optional(),
  ovsdb_socket: z.string().min(1).optional(),
  // Node's timers hold at most 2^31-1 ms; a larger deadline would fire at once.
  daemon_timeout_s: z.number().positive().max(MAX_TIMEOUT_S).optional(),
  tool_timeout_s: z.number().positive().max(MAX_TIMEOUT_S).optional(),
  lock_timeout_s: z.number().positive().max(MAX_TIMEOUT_S).optional(),
  log_file: z.string().optional(),
  log_level: LogLevel.optional(),
  state_dir: z.string().optional(),
  runtimeConfig: z.looseObject({
    deviceID: z.string().optional(),
    CNIDeviceInfoFile: z.string().optional(),
  }).optional(),
  prevResult: z.unknown().optional(),
  // GC (1.1.0): the spec's name, and the one spec-v1.1.0 first printed; libcni sends both.
  'cni.dev/valid-attachments': z.array(z.looseObject({ containerID: z.string(), ifname: z.string() })).optional(),
  'cni.dev/attachments': z.array(z.looseObject({ containerID: z.string(), ifname: z.string() })).optional(),
});

/** The validated, defaulted configuration the code works with. */
export interface Config {
  cniVersion: string;
  name: string;
  serverSocket: string;
  provider: string;
  routes: Route[] | null;
  dns: Dns;
  vfDriver: string;
  vhostUser: { volumeName: string; name: string; consumption: string };
  offload: { enforce: boolean; allowBond: boolean; checkOvs: boolean };
  ovsdbSocket: string;
  daemonTimeoutMs: number;
  toolTimeoutMs: number;
  lockTimeoutMs: number;
  logFile: string;
  logLevel: LogLevel;
  stateDir: string;
  /** deviceID sources in DESIGN §2.2 order, not yet validated. */
  deviceIdSources: { runtimeConfig?: string; deviceID?: string; pciBusID?: string; deviceInfoFile?: string };
  prevResult: unknown;
  /** GC: the attachments the runtime still has; undefined when it sent no list. */
  validAttachments?: Array<{ containerId: string; ifname: string }>;
  /** Things worth a warning in the log once it is open (unknown offload keys). */
  notes: string[];
}

export const DEFAULTS = {
  serverSocket: '/run/openvswitch/kube-ovn-daemon.sock',
  provider: 'ovn',
  ovsdbSocket: '/run/openvswitch/db.sock',
  daemonTimeoutS: 300,
  toolTimeoutS: 10,
  lockTimeoutS: 60,
  stateDir: '/var/lib/cni/kube-ovn-offload',
} as const;

export function parseJson(stdin: string): unknown {
  try {
    return JSON.parse(stdin);
  } catch (err) {
    throw new CniError(Code.DecodingFailure, 'network configuration on stdin is not valid JSON', (err as Error).message);
  }
}

export function parseConfig(doc: unknown, env: NodeJS.ProcessEnv): Config {
  const parsed = NetConf.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || '(top level)';
    throw new CniError(Code.InvalidConfig, `invalid network configuration: ${where}: ${issue.message}`, z.prettifyError(parsed.error));
  }
  const c = parsed.data;
  // kube-ovn's remap: when an ipam section names the daemon, its keys win (pkg/netconf).
  const ipam = c.ipam;
  return {
    cniVersion: c.cniVersion,
    name: c.name,
    serverSocket: ipam?.server_socket || c.server_socket || DEFAULTS.serverSocket,
    provider: ipam?.provider || c.provider || DEFAULTS.provider,
    routes: (ipam?.routes ?? c.routes) ?? null,
    dns: c.dns ?? {},
    vfDriver: c.vf_driver ?? '',
    vhostUser: {
      volumeName: c.vhost_user_socket_volume_name ?? '',
      name: c.vhost_user_socket_name ?? '',
      consumption: c.vhost_user_socket_consumption ?? '',
    },
    offload: {
      enforce: c.offload?.enforce ?? true,
      allowBond: c.offload?.allow_bond ?? false,
      checkOvs: c.offload?.check_ovs ?? true,
    },
    ovsdbSocket: c.ovsdb_socket ?? DEFAULTS.ovsdbSocket,
    daemonTimeoutMs: (c.daemon_timeout_s ?? DEFAULTS.daemonTimeoutS) * 1000,
    toolTimeoutMs: (c.tool_timeout_s ?? DEFAULTS.toolTimeoutS) * 1000,
    lockTimeoutMs: (c.lock_timeout_s ?? DEFAULTS.lockTimeoutS) * 1000,
    logFile: c.log_file ?? '',
    logLevel: c.log_level ?? 'info',
    stateDir: env.KUBE_OVN_OFFLOAD_STATE_DIR || c.state_dir || DEFAULTS.stateDir,
    deviceIdSources: {
      runtimeConfig: c.runtimeConfig?.deviceID,
      deviceID: c.deviceID,
      pciBusID: c.pciBusID,
      deviceInfoFile: c.runtimeConfig?.CNIDeviceInfoFile,
    },
    prevResult: c.prevResult,
    validAttachments: (c['cni.dev/valid-attachments'] ?? c['cni.dev/attachments'])?.map((a) => ({ containerId: a.containerID, ifname: a.ifname })),
    notes: Object.keys(c.offload ?? {})
      .filter((k) => !['enforce', 'allow_bond', 'check_ovs'].includes(k))
      .map((k) => `unknown key offload.${k} ignored (a newer release's?)`),
  };
}
