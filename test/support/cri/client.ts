/**
 * A small CRI client (runtime.v1 over gRPC on containerd's unix socket): the calls the kubelet
 * makes for a pod sandbox and its containers, with the kubelet's deadlines. Test-only; built on
 * @grpc/grpc-js and @grpc/proto-loader with the API subset in runtime-v1.proto.
 */
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const PROTO = fileURLToPath(new URL('./runtime-v1.proto', import.meta.url));
/** The kubelet's default --runtime-request-timeout. */
export const KUBELET_DEADLINE_MS = 120_000;

export interface PodSandboxConfig {
  metadata: { name: string; uid: string; namespace: string; attempt: number };
  hostname: string;
  log_directory: string;
  dns_config: { servers: string[]; searches: string[]; options: string[] } | null;
  port_mappings: Array<{ protocol: 'TCP' | 'UDP'; container_port: number; host_port: number; host_ip: string }>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: {
    cgroup_parent: string;
    security_context: { namespace_options: { network: 'POD' | 'NODE'; pid: 'POD' | 'CONTAINER' | 'NODE'; ipc: 'POD' | 'NODE' }; privileged?: boolean };
    sysctls: Record<string, string>;
  };
}

export interface ContainerConfig {
  metadata: { name: string; attempt: number };
  image: { image: string };
  command: string[];
  args: string[];
  envs: Array<{ key: string; value: string }>;
  mounts: Array<{ container_path: string; host_path: string; readonly: boolean }>;
  log_path: string;
}

export interface SandboxStatus {
  id: string;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  network: { ip: string; additional_ips: Array<{ ip: string }> } | null;
}

export interface ContainerStatus {
  id: string;
  state: 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
  exit_code: number;
  reason: string;
  message: string;
  log_path: string;
}

/** A failed call as the kubelet sees it: the gRPC status and containerd's text. */
export class CriCallError extends Error {
  constructor(readonly method: string, readonly code: grpc.status, readonly details: string, readonly ms: number) {
    super(`${method}: ${grpc.status[code]}: ${details}`);
  }
}

export interface Timed<T> {
  res: T;
  ms: number;
}

export type CriClient = ReturnType<typeof criClient>;

export function criClient(socket: string) {
  const definition = loader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const v1 = (grpc.loadPackageDefinition(definition) as any).runtime.v1;
  const runtime = new v1.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure());

  const call = <T>(method: string, request: object, deadlineMs = KUBELET_DEADLINE_MS): Promise<Timed<T>> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      runtime[method](request, { deadline: new Date(Date.now() + deadlineMs) }, (err: grpc.ServiceError | null, res: T) => {
        const ms = performance.now() - started;
        if (err) reject(new CriCallError(method, err.code, err.details, ms));
        else resolve({ res, ms });
      });
    });

  return {
    version: () => call<{ runtime_name: string; runtime_version: string; runtime_api_version: string }>('Version', { version: 'v1' }),
    status: () => call<{ status: { conditions: Array<{ type: string; status: boolean; reason: string; message: string }> } }>('Status', { verbose: false }),
    runPodSandbox: (config: PodSandboxConfig, deadlineMs?: number) => call<{ pod_sandbox_id: string }>('RunPodSandbox', { config, runtime_handler: '' }, deadlineMs),
    podSandboxStatus: (id: string) => call<{ status: SandboxStatus; info: Record<string, string> }>('PodSandboxStatus', { pod_sandbox_id: id, verbose: true }),
    stopPodSandbox: (id: string, deadlineMs?: number) => call<object>('StopPodSandbox', { pod_sandbox_id: id }, deadlineMs),
    removePodSandbox: (id: string, deadlineMs?: number) => call<object>('RemovePodSandbox', { pod_sandbox_id: id }, deadlineMs),
    listPodSandbox: () => call<{ items: Array<{ id: string; metadata: { name: string }; state: string }> }>('ListPodSandbox', {}),
    createContainer: (podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig) =>
      call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podSandboxId, config, sandbox_config: sandboxConfig }),
    startContainer: (id: string) => call<object>('StartContainer', { container_id: id }),
    stopContainer: (id: string, timeoutS = 0) => call<object>('StopContainer', { container_id: id, timeout: timeoutS }),
    removeContainer: (id: string) => call<object>('RemoveContainer', { container_id: id }),
    containerStatus: (id: string) => call<{ status: ContainerStatus }>('ContainerStatus', { container_id: id, verbose: false }),
    close: () => runtime.close(),
  };
}

/**
 * A pod sandbox as the kubelet asks for one: metadata, DNS, labels, annotations, the pod's
 * cgroup parent, its own network namespace (or the node's, for a hostNetwork pod).
 */
export function podSandboxConfig(name: string, opts: { namespace?: string; cgroupParent: string; logDirectory?: string; hostNetwork?: boolean; annotations?: Record<string, string> }): PodSandboxConfig {
  const namespace = opts.namespace ?? 'default';
  return {
    metadata: { name, uid: randomUUID(), namespace, attempt: 0 },
    // A hostNetwork pod shares the node's UTS namespace: the kubelet sets no hostname for it.
    hostname: opts.hostNetwork ? '' : name,
    log_directory: opts.logDirectory ?? '',
    dns_config: opts.hostNetwork ? null : { servers: ['10.96.0.10'], searches: [`${namespace}.svc.cluster.local`, 'svc.cluster.local'], options: ['ndots:5'] },
    port_mappings: [],
    labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': namespace },
    annotations: { 'kubernetes.io/config.source': 'api', ...opts.annotations },
    linux: {
      cgroup_parent: opts.cgroupParent,
      security_context: { namespace_options: { network: opts.hostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' }, ...(opts.hostNetwork ? { privileged: true } : {}) },
      sysctls: {},
    },
  };
}

/** The path of a sandbox's network namespace, from PodSandboxStatus's verbose info. */
export function sandboxNetns(info: Record<string, string>): string | undefined {
  const doc = JSON.parse(info.info ?? '{}') as { runtimeSpec?: { linux?: { namespaces?: Array<{ type: string; path?: string }> } } };
  return doc.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
}
