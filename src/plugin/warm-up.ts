/**
 * What the single executable's start-up snapshot runs once, when it is packaged (src/sea.ts):
 * the pure steps of a pod's ADD on made-up input, so that their code is compiled in the
 * snapshot and not again by every pod (V8 compiles a function on its first call). Only
 * parsing and checking here: no file, process, socket or clock, nothing of the packager's
 * environment, since all of it would be frozen into every run.
 */
import { parseConfig, parseJson } from '../cni/config.js';
import { parseEnv, podIdentity } from '../cni/env.js';
import { forVersion, mergeResults, parsePrevResult } from '../cni/result.js';
import { stdinVersion, requireSupported } from '../cni/version.js';
import { CniResponse } from '../kubeovn/protocol.js';
import { devlinkPorts, devlinkEswitchMode } from '../node/devlink.js';
import { ethtoolHwTcOffload } from '../node/features.js';
import type { RunTool } from '../node/tools.js';
import { representorHostName } from '../kubeovn/naming.js';
import { daemonNamesProblem } from '../kubeovn/request.js';
import { resultFromDaemon } from '../kubeovn/result.js';
import { Attachment, sameAttachment } from './state.js';

const PF = '0000:42:00.0';
const VF = '0000:42:00.2';

const TOOLS: Record<string, string> = {
  [`devlink -j dev eswitch show pci/${PF}`]: `{"dev":{"pci/${PF}":{"mode":"switchdev","inline-mode":"none","encap-mode":"basic"}}}`,
  'devlink -j port show': `{"port":{"pci/${PF}/65535":{"type":"eth","netdev":"p0","flavour":"physical","port":0,"splittable":false},"pci/${PF}/1":{"type":"eth","netdev":"pf0vf0","flavour":"pcivf","controller":0,"pfnum":0,"vfnum":0,"external":false,"splittable":false}}}`,
  'ethtool --json -k p0': '[{"ifname":"p0","hw-tc-offload":{"active":true,"fixed":false,"requested":true}}]',
};

const run: RunTool = async (tool, args) => ({ exitCode: 0, stdout: TOOLS[`${tool} ${args.join(' ')}`] ?? '', stderr: '' });

export async function warmUp(): Promise<void> {
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: '5b45c61b307e0a9f8c7d6e5f', CNI_NETNS: '/var/run/netns/warm-up', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0' };
  const result = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', mac: '00:00:00:53:6b:12', sandbox: env.CNI_NETNS }], ips: [{ address: '10.16.0.5/16', gateway: '10.16.0.1', interface: 0 }], routes: [{ dst: '0.0.0.0/0', gw: '10.16.0.1' }], dns: {} };
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'kube-ovn', type: 'kube-ovn-offload', deviceID: VF, runtimeConfig: { deviceID: VF }, offload: { enforce: true }, prevResult: result });
  requireSupported(stdinVersion(stdin));
  const cni = parseEnv(env);
  podIdentity(cni);
  daemonNamesProblem(cni);
  representorHostName(cni.containerId, cni.ifname);
  sameAttachment({ network: 'kube-ovn', containerId: cni.containerId, ifname: 'eth0' }, { network: 'kube-ovn', containerId: cni.containerId, ifname: 'eth0' });
  const conf = parseConfig(parseJson(stdin), env);
  JSON.stringify(forVersion(mergeResults(parsePrevResult(conf.prevResult), result), conf.cniVersion));
  Attachment.safeParse({ version: 1, network: 'kube-ovn', containerId: env.CNI_CONTAINERID, ifname: 'eth0', netns: env.CNI_NETNS, pod: { name: 'web-0', namespace: 'default' }, deviceID: VF, pf: PF, uplink: 'p0', vfIndex: 0, mode: 'guard', representor: { original: 'pf0vf0', host: '5b45c61b307e_h' }, result: {}, createdAt: '2026-01-01T00:00:00.000Z' });
  const answer = CniResponse.safeParse({ protocol: 'IPv4', ip_address: '10.16.0.5/16', mac_address: '00:00:00:53:6b:12', cidr: '10.16.0.0/16', gateway: '10.16.0.1', mtu: 1400 });
  if (answer.success) resultFromDaemon(answer.data, { ifname: 'eth0', netns: env.CNI_NETNS, vfPci: VF }, { representor: '5b45c61b307e_h' });
  await Promise.all([devlinkEswitchMode(run, PF), devlinkPorts(run), ethtoolHwTcOffload(run, 'p0')]);
}
