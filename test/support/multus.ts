/**
 * The real Multus v4.0.2 for the runtime suite, thin (`multus`) and thick (`multus-daemon` +
 * `multus-shim`), built offline from third_party/ by test/support/build-multus.sh, and what it
 * reads on a node that no config key can move: the kubelet's PodResources socket (served here by
 * our fake kubelet, test/support/multus/fake-kubelet.go), the device-info directories and, for
 * thick, the in-cluster service account. Each is made only when missing and removed by the same
 * helper afterwards (test/support/host-paths.ts); a real kubelet's socket or service account is
 * refused, never touched. Facts: docs/testing.md#behind-the-real-multus, docs/upstream.md#multus-hard-coded-host-paths. Needs root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import * as z from 'zod/mini';
import { hostPaths } from './host-paths.js';
import { endProcess } from './end-process.js';

export const MULTUS_BIN_DIR = fileURLToPath(new URL('../../.cache/multus', import.meta.url));
/** Thin Multus: the CNI plugin that reads the API and the kubelet itself. */
export const MULTUS = join(MULTUS_BIN_DIR, 'multus');
/** Thick Multus: the node daemon that does the work for multus-shim. */
export const MULTUS_DAEMON = join(MULTUS_BIN_DIR, 'multus-daemon');
export const MULTUS_SHIM = join(MULTUS_BIN_DIR, 'multus-shim');
export const FAKE_KUBELET = join(MULTUS_BIN_DIR, 'fake-kubelet');
/** Multus's vendor tree, where the k8s.io .proto files are (k8s.io/api/core/v1/generated.proto). */
export const MULTUS_VENDOR = fileURLToPath(new URL('../../.cache/multus-src/vendor', import.meta.url));
const BUILD_MULTUS = fileURLToPath(new URL('./build-multus.sh', import.meta.url));

/** pkg/kubeletclient GetResourceClient(""): defaultPodResourcesPath + "/kubelet.sock". */
export const KUBELET_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock';
/** network-attachment-definition-client utils/cniconfig.go: baseDevInfoPath + dp, cni. */
export const DEVINFO_DP = '/var/run/k8s.cni.cncf.io/devinfo/dp';
export const DEVINFO_CNI = '/var/run/k8s.cni.cncf.io/devinfo/cni';
/** client-go rest.InClusterConfig: the token and CA that thick's multus-daemon must find. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A no-op when the binaries are newer than the archive and fake-kubelet.go; cold about a minute. */
export async function buildMultus(): Promise<void> {
  await execa('bash', [BUILD_MULTUS], { timeout: 900_000, stdio: 'inherit' });
}

// What the fake kubelet answers List from: {"pods":[{"namespace":"default","name":"p","containers":[{"name":"c","devices":[{"resourceName":"example.com/offload_vf","deviceIds":["0000:42:00.3"]}]}]}]}
const KubeletPod = z.object({
  namespace: z.string(),
  name: z.string(),
  containers: z.array(z.object({ name: z.string(), devices: z.array(z.object({ resourceName: z.string(), deviceIds: z.array(z.string()) })) })),
});
export type KubeletPod = z.infer<typeof KubeletPod>;
export const KubeletPods = z.object({ pods: z.array(KubeletPod) });

// One line of its call log: {"time":"…","method":"List","authority":"/var/lib/kubelet/pod-resources/kubelet.sock","userAgent":"grpc-go/1.40.0","callerPid":4242,"callerExe":"/…/multus","answer":{"pods":[…]}}
const KubeletCall = z.object({
  time: z.string(),
  /** "List", "GetAllocatableResources", or the full name of a method it does not serve. */
  method: z.string(),
  authority: z.optional(z.string()),
  userAgent: z.optional(z.string()),
  callerPid: z.optional(z.number()),
  callerExe: z.optional(z.string()),
  answer: z.optional(KubeletPods),
  error: z.optional(z.string()),
});
export type KubeletCall = z.infer<typeof KubeletCall>;

export interface FakeKubelet {
  socket: string;
  /** Replaces what List answers from the next call on. */
  setPods(pods: KubeletPod[]): void;
  /** Every call so far, in order. */
  calls(): KubeletCall[];
  /** Ends the fake and removes its socket and the directories made for it. */
  stop(): Promise<void>;
}

/**
 * Starts our fake kubelet on Multus's hard-coded socket (or `socket`). Refuses when that socket
 * is already there: a real kubelet's, or another test's fake.
 */
export async function startFakeKubelet(opts: { dir: string; pods: KubeletPod[]; socket?: string }): Promise<FakeKubelet> {
  const socket = opts.socket ?? KUBELET_SOCKET;
  if (existsSync(socket)) throw new Error(`${socket} already exists (${describeListener(socket)}); refusing to start a fake kubelet over it. If it is a leftover of a killed test, remove it by hand.`);
  const podsFile = join(opts.dir, 'kubelet-pods.json');
  const logFile = join(opts.dir, 'kubelet-calls.jsonl');
  const outFile = join(opts.dir, 'fake-kubelet.out');
  const setPods = (pods: KubeletPod[]) => {
    // Renamed into place: a List never reads a half-written file.
    writeFileSync(`${podsFile}.tmp`, JSON.stringify(KubeletPods.parse({ pods })));
    renameSync(`${podsFile}.tmp`, podsFile);
  };
  setPods(opts.pods);
  writeFileSync(logFile, '');

  const paths = hostPaths(opts.dir, 'fake-kubelet');
  let proc: ChildProcess | undefined;
  const stop = async () => {
    await endProcess(proc);
    paths.remove();
  };
  try {
    paths.mkdirs(dirname(socket));
    paths.own(socket); // removed by stop() if the fake could not remove it itself
    const out = openSync(outFile, 'a');
    proc = spawn(FAKE_KUBELET, ['-socket', socket, '-pods', podsFile, '-log', logFile], { stdio: ['ignore', out, out] });
    closeSync(out);
    const started = proc;
    await new Promise<void>((resolve, reject) => started.once('spawn', resolve).once('error', reject));
    started.on('error', () => undefined); // later errors show as its exit
    await untilAccepting(socket, started, 10_000);
  } catch (err) {
    await stop().catch(() => undefined);
    const output = existsSync(outFile) ? readFileSync(outFile, 'utf8').trim() : '';
    throw new Error(`fake kubelet did not start: ${(err as Error).message}${output ? `\n${output}` : ''}`);
  }
  return {
    socket,
    setPods,
    calls: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => KubeletCall.parse(JSON.parse(line))),
    stop,
  };
}

export interface MultusHostPaths {
  /** Where the device plugin leaves its device-info files, and where Multus copies them for a CNI. */
  devinfoDp: string;
  devinfoCni: string;
  /** What the SR-IOV device plugin writes for an allocated VF; Multus copies it for secondary networks. Returns its path. */
  writeDevicePluginInfo(resourceName: string, pciAddress: string): string;
  /** Removes what was made here, never what was there before. */
  remove(): void;
}

/**
 * Multus's other hard-coded host paths: the device-info directories and, given a
 * `serviceAccount`, the token and CA that thick's in-cluster client reads. Refuses a service
 * account directory that holds anything but the same token and CA (a real pod's, or a real node's).
 */
export function multusHostPaths(opts: { dir: string; serviceAccount?: { token: string; caPem: string } }): MultusHostPaths {
  const sa = opts.serviceAccount;
  if (sa && existsSync(SERVICE_ACCOUNT_DIR)) {
    const wanted: Record<string, string> = { token: sa.token, 'ca.crt': sa.caPem };
    const foreign = readdirSync(SERVICE_ACCOUNT_DIR).filter((f) => !(f in wanted) || readFileSync(join(SERVICE_ACCOUNT_DIR, f), 'utf8') !== wanted[f]);
    if (foreign.length > 0) throw new Error(`${SERVICE_ACCOUNT_DIR} already holds ${foreign.join(', ')}: a real service account; refusing to write a fake one over it`);
  }
  const paths = hostPaths(opts.dir, 'multus');
  try {
    paths.mkdirs(DEVINFO_DP);
    paths.mkdirs(DEVINFO_CNI);
    if (sa) {
      paths.mkdirs(SERVICE_ACCOUNT_DIR);
      for (const [file, content] of [['token', sa.token], ['ca.crt', sa.caPem]] as const) {
        const path = join(SERVICE_ACCOUNT_DIR, file);
        if (!existsSync(path)) paths.writeFile(path, content, 0o600); // else the same content, checked above, and not ours
      }
    }
  } catch (err) {
    paths.remove();
    throw err;
  }
  return {
    devinfoDp: DEVINFO_DP,
    devinfoCni: DEVINFO_CNI,
    writeDevicePluginInfo(resourceName, pciAddress) {
      // nadutils getDPDeviceInfoPath: "<resource, / as ->-<device id>-device.json"
      const path = join(DEVINFO_DP, `${resourceName.replaceAll('/', '-')}-${pciAddress.replaceAll('/', '-')}-device.json`);
      paths.writeFile(path, JSON.stringify({ type: 'pci', version: '1.0.0', pci: { 'pci-address': pciAddress } }));
      return path;
    },
    remove: () => paths.remove(),
  };
}

/** Resolves once a unix socket accepts a connection; rejects if `proc` exits first or on timeout. */
async function untilAccepting(socket: string, proc: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`it exited (${proc.exitCode ?? proc.signalCode})`);
    const connected = await new Promise<boolean>((resolve) => {
      const c = createConnection({ path: socket });
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (connected) return;
    if (Date.now() > deadline) throw new Error(`${socket} accepted no connection within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Who listens on a unix socket, for the refusal's message: /proc/net/unix's inode, then the process holding it. */
function describeListener(socket: string): string {
  // "0000000000000000: 00000002 00000000 00010000 0001 01 123456 /var/lib/kubelet/pod-resources/kubelet.sock"
  const line = readOr('/proc/net/unix', '').split('\n').find((l) => l.endsWith(` ${socket}`) && l.split(/\s+/)[5] === '01');
  const inode = line?.split(/\s+/)[6];
  if (!inode) return 'nobody listens on it';
  for (const pid of readdirSafe('/proc').filter((p) => /^\d+$/.test(p))) {
    for (const fd of readdirSafe(`/proc/${pid}/fd`)) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target !== `socket:[${inode}]`) continue;
      const cmd = readOr(`/proc/${pid}/cmdline`, '').replaceAll('\0', ' ').trim();
      return cmd.startsWith(FAKE_KUBELET) ? `another test's fake kubelet, pid ${pid}` : `served by pid ${pid}: ${cmd}`;
    }
  }
  return 'a process listens on it';
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
