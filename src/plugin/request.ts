import { podIdentity } from '../cni/env.js';
import type { CniRequest } from '../kubeovn/protocol.js';
import type { Context } from './context.js';

/** The daemon request for ADD, every key filled as kube-ovn's cmdAdd fills it. */
export function addRequest(ctx: Context, deviceId: string): CniRequest {
  const { conf, env } = ctx;
  const pod = podIdentity(env);
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
export function delRequest(ctx: Context, deviceId: string): CniRequest {
  return { ...addRequest(ctx, deviceId), routes: null, dns: {}, vf_driver: '', vhost_user_socket_name: '' };
}
