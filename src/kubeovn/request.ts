/**
 * The daemon's requests as kube-ovn's binary (cmd/cni) builds them, from plain inputs: the pod,
 * the CNI environment and the network configuration the caller already parsed.
 */
import type { Config } from '../cni/config.js';
import type { CniEnv } from '../cni/env.js';
import { CniError, Code } from '../cni/errors.js';
import { ifnameProblem } from './naming.js';
import type { CniRequest } from './protocol.js';

export interface Pod {
  name: string;
  namespace: string;
}

/** The CNI environment the daemon is told of. */
export type RequestEnv = Pick<CniEnv, 'containerId' | 'netns' | 'ifname'>;

/** The network configuration the daemon is told of. */
export type RequestConf = Pick<Config, 'provider' | 'routes' | 'dns' | 'vfDriver' | 'vhostUser'>;

/** Why the daemon could not attach this container ID and ifname (it would crash), or undefined. */
export function daemonNamesProblem(env: Pick<CniEnv, 'containerId' | 'ifname'>): CniError | undefined {
  // The daemon slices container_id[0:12] for the representor's name; a shorter one crashes it.
  if (env.containerId.length < 12) {
    return new CniError(Code.InvalidEnvironment, `CNI_CONTAINERID ${JSON.stringify(env.containerId)} is shorter than 12 characters`, 'the kube-ovn daemon names the representor <containerID[:12]>_h and needs at least 12 characters');
  }
  const bad = ifnameProblem(env.ifname);
  if (bad) return new CniError(Code.InvalidEnvironment, `CNI_IFNAME ${JSON.stringify(env.ifname)} is too long for kube-ovn`, `${env.ifname} ${bad}; its daemon crashes on a longer one. Name the interface in the pod's network request with at most 12 characters`);
  return undefined;
}

/** The daemon request for ADD, every key filled as kube-ovn's cmdAdd fills it. */
export function addRequest(env: RequestEnv, conf: RequestConf, pod: Pod, deviceId: string): CniRequest {
  return {
    cni_type: 'kube-ovn',
    pod_name: pod.name,
    pod_namespace: pod.namespace,
    container_id: env.containerId,
    net_ns: env.netns,
    if_name: env.ifname,
    provider: conf.provider,
    routes: conf.routes,
    dns: conf.dns,
    vf_driver: conf.vfDriver,
    deviceID: deviceId,
    vhost_user_socket_volume_name: conf.vhostUser.volumeName,
    vhost_user_socket_name: conf.vhostUser.name,
    vhost_user_socket_consumption: conf.vhostUser.consumption,
  };
}

/** The DEL request: kube-ovn's cmdDel leaves routes, dns, vf_driver and the socket name empty. */
export function delRequest(env: RequestEnv, conf: RequestConf, pod: Pod, deviceId: string): CniRequest {
  return { ...addRequest(env, conf, pod, deviceId), routes: null, dns: {}, vf_driver: '', vhost_user_socket_name: '' };
}
