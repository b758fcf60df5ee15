/** Runs the built plugin as the runtime does: a process, CNI_* in the environment, config on stdin. */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

export const PLUGIN_BIN = fileURLToPath(new URL('../../bin/kube-ovn-offload', import.meta.url));
/** The single executable (`npm run package`): Node and the bundle in one file. */
export const SEA_BIN = fileURLToPath(new URL('../../dist/kube-ovn-offload', import.meta.url));

export interface Invocation {
  command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';
  /** The network configuration, or raw stdin text. */
  conf: unknown;
  /** The node's environment (PATH with fake tools, KUBE_OVN_OFFLOAD_SYSFS_ROOT). */
  env: Record<string, string>;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  /** Extra or overriding CNI_* variables; undefined removes one. */
  cniEnv?: Record<string, string | undefined>;
  bin?: string;
}

export interface Outcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed, when there is any. */
  json?: Record<string, any>;
}

export async function invoke(inv: Invocation): Promise<Outcome> {
  const cni: Record<string, string | undefined> = {
    CNI_COMMAND: inv.command,
    CNI_CONTAINERID: inv.containerId ?? '5b45c61b307e0a9f8c7d6e5f4a3b2c1d',
    CNI_NETNS: inv.netns ?? '/var/run/netns/kovo-test',
    CNI_IFNAME: inv.ifname ?? 'eth0',
    CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: inv.args ?? 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx;K8S_POD_INFRA_CONTAINER_ID=5b45c61b307e',
    ...inv.cniEnv,
  };
  const env: Record<string, string> = { ...inv.env };
  for (const [k, v] of Object.entries(cni)) if (v !== undefined) env[k] = v;
  const r = await execa(inv.bin ?? PLUGIN_BIN, [], {
    input: typeof inv.conf === 'string' ? inv.conf : JSON.stringify(inv.conf),
    env,
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  });
  const stdout = String(r.stdout);
  let json: Record<string, any> | undefined;
  if (stdout.trim()) json = JSON.parse(stdout) as Record<string, any>;
  return { exitCode: r.exitCode ?? -1, stdout, stderr: String(r.stderr), json };
}
