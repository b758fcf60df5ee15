import { CniError, Code } from './errors.js';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'] as const;
export type Command = (typeof COMMANDS)[number];

export interface CniEnv {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  path: string;
  args: Map<string, string>;
}

// Which variables each command needs (SPEC §"Parameters", plus CNI_PATH as libcni's skel asks).
const REQUIRED: Record<Command, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  STATUS: ['CNI_PATH'],
  GC: ['CNI_PATH'],
  VERSION: [],
};

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/; // "cnitool-3f1c…", "5b45c61b307e0a…"

export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const raw = env.CNI_COMMAND ?? '';
  if (!(COMMANDS as readonly string[]).includes(raw)) {
    throw new CniError(Code.InvalidEnvironment, `unknown CNI_COMMAND: ${JSON.stringify(raw)}`, `expected one of ${COMMANDS.join(', ')}`);
  }
  const command = raw as Command;
  const missing = REQUIRED[command].filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new CniError(Code.InvalidEnvironment, `required env variables [${missing.join(',')}] missing`, `CNI_COMMAND=${command}`);
  }
  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId && !CONTAINER_ID.test(containerId)) {
    throw new CniError(Code.InvalidEnvironment, `invalid CNI_CONTAINERID ${JSON.stringify(containerId)}`, `must match ${CONTAINER_ID.source}`);
  }
  const ifname = env.CNI_IFNAME ?? '';
  if (ifname) validateIfname(ifname);
  return {
    command,
    containerId,
    netns: env.CNI_NETNS ?? '',
    ifname,
    path: env.CNI_PATH ?? '',
    args: parseCniArgs(env.CNI_ARGS ?? ''),
  };
}

/** Linux interface-name rules, as libcni checks them: ≤ 15 bytes, no "/", ":" or white space. */
export function validateIfname(name: string): void {
  const bad =
    Buffer.byteLength(name) > 15 ? 'longer than 15 bytes'
    : name === '.' || name === '..' ? 'a reserved name'
    : /[/:\s]/.test(name) ? 'containing "/", ":" or white space'
    : '';
  if (bad) throw new CniError(Code.InvalidEnvironment, `invalid CNI_IFNAME ${JSON.stringify(name)}: ${bad}`);
}

/**
 * CNI_ARGS "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web-0", read as kube-ovn's
 * binary reads it: unknown keys and pairs without "=" are ignored, so a runtime that adds
 * something never stops a pod.
 */
export function parseCniArgs(text: string): Map<string, string> {
  const args = new Map<string, string>();
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    // The first non-empty value wins, as kube-ovn's parseValueFromArgs reads it.
    const key = pair.slice(0, eq);
    if (!args.get(key)) args.set(key, pair.slice(eq + 1));
  }
  return args;
}

/** K8S_POD_NAME and K8S_POD_NAMESPACE, which the kube-ovn daemon needs on ADD and DEL. */
export function podIdentity(env: CniEnv): { name: string; namespace: string } {
  const name = env.args.get('K8S_POD_NAME') ?? '';
  const namespace = env.args.get('K8S_POD_NAMESPACE') ?? '';
  const missing = [!name && 'K8S_POD_NAME', !namespace && 'K8S_POD_NAMESPACE'].filter(Boolean);
  if (missing.length > 0) {
    throw new CniError(Code.InvalidConfig, `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required in CNI_ARGS`, `CNI_ARGS=${JSON.stringify([...env.args].map(([k, v]) => `${k}=${v}`).join(';'))}; the runtime (or Multus) sets these for every pod`);
  }
  return { name, namespace };
}
