import { isAbsolute, resolve } from 'node:path';
import { CniError, Code } from './errors.js';

/**
 * Where paths named in the network configuration may point. A NetworkAttachmentDefinition can
 * be written by a tenant, so its paths are confined to the folders each key exists for: the
 * plugin, running as root, must not read or write anywhere a NAD says.
 */
export const PATH_ROOTS = {
  'runtimeConfig.CNIDeviceInfoFile': ['/var/run/k8s.cni.cncf.io/devinfo/', '/run/k8s.cni.cncf.io/devinfo/'],
  log_file: ['/var/log/'],
  state_dir: ['/var/lib/cni/', '/run/', '/var/run/'],
} as const;
export type PathKey = keyof typeof PATH_ROOTS;

const EXAMPLE: Record<PathKey, string> = {
  'runtimeConfig.CNIDeviceInfoFile': 'Multus fills this key from the device plugin; a NetworkAttachmentDefinition has no reason to set it',
  log_file: 'e.g. "log_file": "/var/log/kube-ovn/kube-ovn-offload.log"',
  state_dir: 'leave state_dir out for the default, /var/lib/cni/kube-ovn-offload',
};

/** The environment variable that adds roots (tests, development); set by the runtime, never by a NAD. */
export const PATH_ROOTS_ENV = 'KUBE_OVN_OFFLOAD_PATH_ROOTS';

/** The extra roots of KUBE_OVN_OFFLOAD_PATH_ROOTS (colon-separated absolute folders). */
export function extraRoots(env: NodeJS.ProcessEnv): string[] {
  return (env[PATH_ROOTS_ENV] ?? '')
    .split(':')
    .filter((r) => isAbsolute(r))
    .map((r) => withSlash(resolve(r)));
}

/** Why `value` may not be used for `key`, or undefined when it is inside one of its roots. */
export function pathProblem(key: PathKey, value: string, extra: string[]): string | undefined {
  const roots = [...PATH_ROOTS[key], ...extra];
  const allowed = `it must be an absolute path under ${PATH_ROOTS[key].join(' or ')}`;
  if (value.includes('\0')) return `${key} ${JSON.stringify(value)} holds a NUL byte; ${allowed}`;
  if (!isAbsolute(value)) return `${key} ${JSON.stringify(value)} is relative; ${allowed}`;
  // resolve() removes "." and ".." so that /var/log/../../etc/shadow is judged as /etc/shadow.
  const full = resolve(value);
  if (roots.some((root) => full.startsWith(root) && full.length > root.length)) return undefined;
  return `${key} ${JSON.stringify(value)} is outside the folders the plugin may use; ${allowed}`;
}

/** `value` normalised, or code 7 naming the allowed roots. */
export function confinePath(key: PathKey, value: string, extra: string[]): string {
  const problem = pathProblem(key, value, extra);
  if (problem) throw new CniError(Code.InvalidConfig, `invalid network configuration: ${problem}`, EXAMPLE[key]);
  return resolve(value);
}

function withSlash(dir: string): string {
  return dir.endsWith('/') ? dir : `${dir}/`;
}
