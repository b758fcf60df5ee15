import * as z from 'zod/mini';
import { resolve } from 'node:path';
import { ENGLISH } from './english.js';
import { CniError, Code } from './errors.js';
import { tooDeep } from './preview.js';
import { confinePath, extraRoots, pathProblem, type PathKey } from './paths.js';

/** {"dst": "...", "gw": "..."}, each omitted when empty: netconf `routes`, as kube-ovn reads them. */
export const Route = z.object({ dst: z.optional(z.string()), gw: z.optional(z.string()) });
export type Route = z.infer<typeof Route>;

export const Dns = z.object({
  nameservers: z.optional(z.array(z.string())),
  domain: z.optional(z.string()),
  search: z.optional(z.array(z.string())),
  options: z.optional(z.array(z.string())),
});
export type Dns = z.infer<typeof Dns>;

const MAX_TIMEOUT_S = 2_147_483;

const LogLevel = z.enum(['debug', 'info', 'warn', 'error']);
export type LogLevel = z.infer<typeof LogLevel>;

/** What users write in the NetworkAttachmentDefinition (docs/configuration.md). Unknown keys pass. */
const NetConf = z.looseObject({
  cniVersion: z.string(),
  name: z.string().check(z.regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'network name must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$')),
  type: z.optional(z.string()),
  server_socket: z.optional(z.string().check(z.minLength(1))),
  provider: z.optional(z.string()),
  routes: z.nullish(z.array(Route)),
  dns: z.optional(Dns),
  vf_driver: z.optional(z.string()),
  deviceID: z.optional(z.string()),
  pciBusID: z.optional(z.string()),
  ipam: z.optional(z.looseObject({
    type: z.optional(z.string()),
    server_socket: z.optional(z.string().check(z.minLength(1))),
    provider: z.optional(z.string()),
    routes: z.nullish(z.array(Route)),
  })),
  vhost_user_socket_volume_name: z.optional(z.string()),
  vhost_user_socket_name: z.optional(z.string()),
  vhost_user_socket_consumption: z.optional(z.string()),
  mode: z.optional(z.enum(['guard', 'shim'], 'must be "guard" (checks, then kube-ovn\'s binary forwards) or "shim" (forwards itself)')),
  // Loose: a key a newer release adds must not refuse pods on a node still running this one.
  offload: z.optional(z.looseObject({
    require_vf: z.optional(z.boolean()),
    enforce: z.optional(z.boolean()),
    allow_bond: z.optional(z.boolean()),
    check_ovs: z.optional(z.boolean()),
    verify: z.optional(z.enum(['warn', 'strict'], 'must be "warn" (log and result warning) or "strict" (refuse with 110)')),
  })),
  ovsdb_socket: z.optional(z.string().check(z.minLength(1))),
  // Node's timers hold at most 2^31-1 ms; a larger deadline would fire at once.
  daemon_timeout_s: z.optional(z.number().check(z.positive(), z.maximum(MAX_TIMEOUT_S))),
  tool_timeout_s: z.optional(z.number().check(z.positive(), z.maximum(MAX_TIMEOUT_S))),
  lock_timeout_s: z.optional(z.number().check(z.positive(), z.maximum(MAX_TIMEOUT_S))),
  invocation_timeout_s: z.optional(z.number().check(z.positive(), z.maximum(MAX_TIMEOUT_S))),
  log_file: z.optional(z.string()),
  log_level: z.optional(LogLevel),
  state_dir: z.optional(z.string()),
  runtimeConfig: z.optional(z.looseObject({
    deviceID: z.optional(z.string()),
    CNIDeviceInfoFile: z.optional(z.string()),
  })),
  prevResult: z.optional(z.unknown()),
  // GC (1.1.0): the spec's name, and the one spec-v1.1.0 first printed; libcni sends both.
  'cni.dev/valid-attachments': z.optional(z.array(z.looseObject({ containerID: z.string(), ifname: z.string() }))),
  'cni.dev/attachments': z.optional(z.array(z.looseObject({ containerID: z.string(), ifname: z.string() }))),
});

/** The validated, defaulted configuration the code works with. */
export type Mode = 'guard' | 'shim';

export interface Config {
  cniVersion: string;
  name: string;
  /** docs/topologies.md: guard checks and records, kube-ovn's binary next in the list forwards; shim forwards itself. */
  mode: Mode;
  serverSocket: string;
  provider: string;
  routes: Route[] | null;
  dns: Dns;
  vfDriver: string;
  vhostUser: { volumeName: string; name: string; consumption: string };
  offload: { requireVf: boolean; enforce: boolean; allowBond: boolean; checkOvs: boolean; verify: 'warn' | 'strict' };
  ovsdbSocket: string;
  daemonTimeoutMs: number;
  toolTimeoutMs: number;
  lockTimeoutMs: number;
  /** The whole invocation's deadline, from the process's start. */
  invocationTimeoutMs: number;
  logFile: string;
  logLevel: LogLevel;
  stateDir: string;
  /** deviceID sources in the order of docs/configuration.md#where-deviceid-comes-from, not yet validated. */
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
  // Below the kubelet's 240 s sandbox deadline, so the plugin, not a SIGKILL, reports a slow daemon.
  daemonTimeoutS: 200,
  toolTimeoutS: 10,
  lockTimeoutS: 60,
  // What is left of the kubelet's 240 s once the runtime has started us: one answer, always.
  invocationTimeoutS: 230,
  stateDir: '/var/lib/cni/kube-ovn-offload',
} as const;

export function parseJson(stdin: string): unknown {
  try {
    return JSON.parse(stdin);
  } catch (err) {
    throw new CniError(Code.DecodingFailure, 'network configuration on stdin is not valid JSON', (err as Error).message);
  }
}

/**
 * The config's paths, confined (src/cni/paths.ts): outside its roots a path is code 7, except
 * on DEL, which must converge whatever the NAD says now: it uses the default and notes why.
 * KUBE_OVN_OFFLOAD_STATE_DIR comes from the runtime's environment and is not confined.
 */
function pathsOf(c: z.infer<typeof NetConf>, env: NodeJS.ProcessEnv, notes: string[]): { logFile: string; stateDir: string; deviceInfoFile?: string } {
  const extra = extraRoots(env);
  const lenient = env.CNI_COMMAND === 'DEL';
  const confined = (key: PathKey, value: string | undefined, fallback: string, fallbackSays: string): string => {
    if (!value) return fallback;
    if (!lenient) return confinePath(key, value, extra);
    const problem = pathProblem(key, value, extra);
    if (!problem) return resolve(value);
    notes.push(`${problem}: DEL goes on with ${fallbackSays}`);
    return fallback;
  };
  return {
    logFile: confined('log_file', c.log_file, '', 'stderr'),
    stateDir: env.KUBE_OVN_OFFLOAD_STATE_DIR || confined('state_dir', c.state_dir, DEFAULTS.stateDir, `the default ${DEFAULTS.stateDir}`),
    deviceInfoFile: confined('runtimeConfig.CNIDeviceInfoFile', c.runtimeConfig?.CNIDeviceInfoFile, '', 'no device-info file') || undefined,
  };
}

// Real configurations nest under 10 levels (a prevResult's routes are 4 deep). Deeper ones are
// refused before anything recurses into them: a 5000-deep prevResult would overflow the stack.
const MAX_DEPTH = 64;

export function parseConfig(doc: unknown, env: NodeJS.ProcessEnv): Config {
  const deep = tooDeep(doc, MAX_DEPTH);
  if (deep) {
    const where = deep.slice(0, 4).join('.') + (deep.length > 4 ? '.…' : '');
    throw new CniError(Code.InvalidConfig, `invalid network configuration: ${where} nests deeper than ${MAX_DEPTH} levels`, 'a CNI configuration or prevResult is a few levels deep; this one was not written by a runtime');
  }
  const parsed = NetConf.safeParse(doc, ENGLISH);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || '(top level)';
    throw new CniError(Code.InvalidConfig, `invalid network configuration: ${where}: ${issue.message}`, z.prettifyError(parsed.error));
  }
  const c = parsed.data;
  const notes: string[] = [];
  const paths = pathsOf(c, env, notes);
  // kube-ovn's remap: when an ipam section names the daemon, its keys win (pkg/netconf).
  const ipam = c.ipam;
  const mode = c.mode ?? 'guard';
  return {
    cniVersion: c.cniVersion,
    name: c.name,
    mode,
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
      // A clusterNetwork shim sees every pod, most without a VF; a guard NAD exists for VF pods only.
      requireVf: c.offload?.require_vf ?? mode === 'guard',
      enforce: c.offload?.enforce ?? true,
      allowBond: c.offload?.allow_bond ?? false,
      checkOvs: c.offload?.check_ovs ?? true,
      verify: c.offload?.verify ?? 'warn',
    },
    ovsdbSocket: c.ovsdb_socket ?? DEFAULTS.ovsdbSocket,
    daemonTimeoutMs: (c.daemon_timeout_s ?? DEFAULTS.daemonTimeoutS) * 1000,
    toolTimeoutMs: (c.tool_timeout_s ?? DEFAULTS.toolTimeoutS) * 1000,
    lockTimeoutMs: (c.lock_timeout_s ?? DEFAULTS.lockTimeoutS) * 1000,
    invocationTimeoutMs: (c.invocation_timeout_s ?? DEFAULTS.invocationTimeoutS) * 1000,
    logFile: paths.logFile,
    logLevel: c.log_level ?? 'info',
    stateDir: paths.stateDir,
    deviceIdSources: {
      runtimeConfig: c.runtimeConfig?.deviceID,
      deviceID: c.deviceID,
      pciBusID: c.pciBusID,
      deviceInfoFile: paths.deviceInfoFile,
    },
    prevResult: c.prevResult,
    validAttachments: (c['cni.dev/valid-attachments'] ?? c['cni.dev/attachments'])?.map((a) => ({ containerId: a.containerID, ifname: a.ifname })),
    notes: [
      ...notes,
      ...Object.keys(c.offload ?? {})
        .filter((k) => !['require_vf', 'enforce', 'allow_bond', 'check_ovs', 'verify'].includes(k))
        .map((k) => `unknown key offload.${k} ignored (a newer release's?)`),
    ],
  };
}
