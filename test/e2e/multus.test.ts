/**
 * The real Multus v4.0.2 in front of the plugin, as root: containerd's CRI → Multus (thin, then
 * thick) → [kube-ovn-offload, kube-ovn, portmap] on the simulated node, with the VF's PCI
 * address injected by Multus itself, from what the kubelet's PodResources service says the pod
 * was given (test/support/multus/fake-kubelet.go), and the pods and NetworkAttachmentDefinitions
 * read from a Kubernetes API (test/support/fake-apiserver.ts). Multus is built from
 * third_party/multus-cni-v4.0.2.tar.gz by the global setup; the recipe this follows is
 * described in docs/testing.md#behind-the-real-multus.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { createRig, finishRig, isRoot, linkInfo, type Rig } from '../support/e2e.js';
import { startContainerd, type Containerd } from '../support/containerd.js';
import { CriCallError, podSandboxConfig, sandboxNetns, type PodSandboxConfig } from '../support/cri/client.js';
import { SEA_BIN } from '../support/plugin.js';
import { representorHostName } from '../../src/kubeovn/naming.js';
import { startFakeApiServer, makeTestCa, type FakeApi, type Nad, type Pod } from '../support/fake-apiserver.js';
import { randomUUID } from 'node:crypto';
import { DEVINFO_CNI, MULTUS, MULTUS_DAEMON, MULTUS_SHIM, MULTUS_VENDOR, multusHostPaths, startFakeKubelet, type FakeKubelet, type MultusHostPaths } from '../support/multus.js';

const PF = '0000:42:00.0';
const VF0 = '0000:42:00.2';
const VF1 = '0000:42:00.3';
const RESOURCE = 'example.com/offload_vf';
const GUARD_PROVIDER = 'default.default.ovn';
const SECONDARY = { namespace: 'default', name: 'offload-net' };
const SECONDARY_PROVIDER = 'offload-net.default.ovn';
const CLUSTER_NAD = 'cluster';
const BRIDGE = 'kovomul0';
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
const built = [MULTUS, MULTUS_DAEMON, MULTUS_SHIM].every((b) => existsSync(b));

/** The Pod object the API holds for a sandbox: same name, namespace and UID, as the kubelet's. */
function podObject(config: PodSandboxConfig, annotations: Record<string, string>, wantsVf: boolean): Pod {
  const resources: Record<string, Record<string, string>> = wantsVf ? { requests: { [RESOURCE]: '1' }, limits: { [RESOURCE]: '1' } } : {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: config.metadata.name, namespace: config.metadata.namespace, uid: config.metadata.uid, resourceVersion: '10', annotations },
    spec: { nodeName: 'node1', containers: [{ name: 'app', image: 'pause', resources }] },
    status: { phase: 'Pending' },
  };
}

function nad(namespace: string, name: string, config: unknown, resourceName?: string): Nad {
  const annotations: Record<string, string> = resourceName ? { 'k8s.v1.cni.cncf.io/resourceName': resourceName } : {};
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name, namespace, uid: randomUUID(), resourceVersion: '2', annotations },
    spec: { config: JSON.stringify(config) },
  };
}

/** A plain network for eth0 when the offload network is a secondary one: a real bridge. */
function clusterConfig(dir: string) {
  return {
    cniVersion: '0.3.1',
    name: CLUSTER_NAD,
    plugins: [
      { type: 'bridge', bridge: BRIDGE, isGateway: false, ipMasq: false, ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet: '10.244.88.0/24' }]] } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

describe.skipIf(!isRoot || !built)('the real Multus v4.0.2 in front of the plugin, through containerd (root)', () => {
  let rig: Rig;
  let api: FakeApi;
  let kubelet: FakeKubelet;
  let host: MultusHostPaths;
  const devices = new Map<string, { namespace: string; name: string; ids: string[] }>();
  /** The VFs' netdev names on the host, before any pod takes one. */
  const vfNames = new Map<string, string>();

  /** Multus's scratch cache and libcni's results under its cniDir: the folders stay, no file may. */
  const filesUnder = (d: string): string[] => (existsSync(d) ? readdirSync(d, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => join(e.parentPath ?? e.path, e.name)) : []);
  const records = () => (existsSync(join(rig.stateDir, 'vf')) ? readdirSync(join(rig.stateDir, 'vf')) : []);
  const locks = () => (existsSync(join(rig.stateDir, 'lock')) ? readdirSync(join(rig.stateDir, 'lock')) : []);
  const logLines = () => (existsSync(rig.logFile) ? readFileSync(rig.logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>) : []);
  const give = (config: PodSandboxConfig, ids: string[]) => {
    devices.set(config.metadata.uid, { namespace: config.metadata.namespace, name: config.metadata.name, ids });
    kubelet.setPods([...devices.values()].map((d) => ({ namespace: d.namespace, name: d.name, containers: [{ name: 'app', devices: d.ids.length ? [{ resourceName: RESOURCE, deviceIds: d.ids }] : [] }] })));
  };
  const networkStatus = (config: PodSandboxConfig): Array<Record<string, any>> | undefined => {
    const text = api.pod(config.metadata.namespace, config.metadata.name)?.metadata.annotations?.[NETWORK_STATUS];
    return text ? (JSON.parse(text) as Array<Record<string, any>>) : undefined;
  };

  beforeAll(async () => {
    rig = await createRig({ vfs: 2, plugin: SEA_BIN, cluster: { anyPod: {}, pods: {} } });
    for (const vf of rig.node.pf().vfs) vfNames.set(vf.pci, vf.netdev!);
    for (const p of ['bridge', 'host-local', 'loopback']) symlinkSync(`/usr/lib/cni/${p}`, join(rig.dir, 'plugins', p));
    // kube-ovn-controller's side: the secondary NAD is a kube-ovn network with its Subnet.
    rig.cluster.spec.nads!.push({ ...SECONDARY, config: { plugins: rig.conflistDoc({ cniVersion: '1.0.0' }).plugins } });
    rig.cluster.spec.subnets!.push({ name: 'offload-net', provider: SECONDARY_PROVIDER, cidrBlock: '10.18.0.0/16', gateway: '10.18.0.1' });
    host = multusHostPaths({ dir: rig.dir });
    kubelet = await startFakeKubelet({ dir: rig.dir, pods: [] });
    api = await startFakeApiServer({ pods: [], nads: [], protoDir: MULTUS_VENDOR });
  }, 300_000);

  afterAll(async () => {
    try {
      await api?.stop();
      await kubelet?.stop();
      host?.remove();
      await execa('ip', ['link', 'del', BRIDGE], { reject: false, timeout: 10_000 });
    } finally {
      await finishRig(rig);
    }
  }, 120_000);

  /** The NADs as a cluster would hold them: the guard list without deviceID, Multus adds it. */
  const guardNad = (namespace: string, name: string, provider: string, plugin: Record<string, unknown> = {}) => {
    const doc = rig.conflistDoc({ cniVersion: '1.0.0', plugin, kubeOvn: { provider } });
    return nad(namespace, name, { ...doc, name }, RESOURCE);
  };

  describe('thin: containerd runs Multus, which runs the NAD\'s list', () => {
    let cd: Containerd;
    const dir = () => join(rig.dir, 'thin');
    const pod = (name: string) => podSandboxConfig(name, { cgroupParent: cd.cgroupParent });
    const run = async (config: PodSandboxConfig) => {
      try {
        return { id: (await cd.cri.runPodSandbox(config)).res.pod_sandbox_id };
      } catch (err) {
        if (err instanceof CriCallError) return { error: err };
        throw err;
      }
    };

    beforeAll(async () => {
      mkdirSync(join(dir(), 'net.d'), { recursive: true });
      writeFileSync(join(dir(), 'kubeconfig'), `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${api.url}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: multus\ncurrent-context: fake\nusers:\n- name: multus\n  user:\n    token: fake-multus-token\n`);
      api.setNad(nad('kube-system', CLUSTER_NAD, clusterConfig(rig.dir)));
      api.setNad(guardNad('default', 'default', GUARD_PROVIDER));
      api.setNad(guardNad(SECONDARY.namespace, SECONDARY.name, SECONDARY_PROVIDER, { capabilities: { deviceID: true, CNIDeviceInfoFile: true } }));
      const multus = {
        type: 'multus',
        kubeconfig: join(dir(), 'kubeconfig'),
        confDir: join(dir(), 'net.d'),
        cniDir: join(dir(), 'cache'),
        binDir: join(rig.dir, 'plugins'),
        logFile: join(dir(), 'multus.log'),
        logLevel: 'debug',
        logToStderr: false,
        multusNamespace: 'kube-system',
        clusterNetwork: CLUSTER_NAD,
        capabilities: { portMappings: true },
      };
      cd = await startContainerd({
        plugins: { multus: MULTUS, loopback: '/usr/lib/cni/loopback' },
        conflists: { '00-multus.conflist': { cniVersion: '0.3.1', name: 'multus-cni-network', plugins: [multus] } },
        env: { ...rig.env, PATH: `${rig.env.PATH}:/usr/sbin:/sbin` },
      });
    }, 300_000);

    afterEach(async () => {
      for (const s of (await cd.cri.listPodSandbox()).res.items) {
        await cd.cri.stopPodSandbox(s.id).catch(() => undefined);
        await cd.cri.removePodSandbox(s.id).catch(() => undefined);
      }
      rig.node.setHwTc(PF, 'on');
      // 5. Teardown: no record, no lock, no Multus cache, no netns.
      expect(records()).toEqual([]);
      expect(locks()).toEqual([]);
      expect(filesUnder(join(dir(), 'cache'))).toEqual([]);
      expect(cd.netnsLeft()).toEqual([]);
    });

    afterAll(async () => {
      await cd?.stop();
    }, 120_000);

    it('guard in the pod\'s NAD: Multus injects the VF the kubelet reports, the pod gets the daemon\'s address, network-status names eth0 and its IP', async () => {
      const config = pod('mul-guard');
      api.setPod(podObject(config, { 'v1.multus-cni.io/default-network': 'default/default' }, true));
      rig.cluster.spec.pods![`default/mul-guard`] = { 'v1.multus-cni.io/default-network': 'default/default' };
      give(config, [VF1]);
      const r = await run(config);
      expect(r.error).toBeUndefined();
      const status = await cd.cri.podSandboxStatus(r.id!);
      expect(status.res.status.network!.ip).toMatch(/^10\.17\.0\.\d+$/);
      // The plugin was handed the VF by Multus, not by the test: its checks ran on it.
      const checks = logLines().find((l) => l.msg === 'offload checks' && l.containerID === r.id);
      expect(checks).toMatchObject({ deviceID: VF1, pf: PF, vfIndex: 1 });
      expect(rig.daemon.requests.find((q) => q.path === '/api/v1/add' && q.body.container_id === r.id)?.body).toMatchObject({ deviceID: VF1, provider: GUARD_PROVIDER });
      const eth0 = await linkInfo('eth0', sandboxNetns(status.res.info)!);
      expect(eth0).toMatchObject({ ifalias: vfNames.get(VF1) });
      expect(records()).toEqual([`${VF1}.json`]);
      // What Multus PUT on pods/<name>/status, as `kubectl get pod -o yaml` would show it.
      expect(networkStatus(config)).toEqual([expect.objectContaining({ name: 'default/default', interface: 'eth0', ips: [status.res.status.network!.ip], default: true })]);
      await cd.cri.stopPodSandbox(r.id!);
      await cd.cri.removePodSandbox(r.id!);
    });

    it('a node that cannot offload (hw-tc-offload off): RunPodSandbox fails with the plugin\'s message and fix, through Multus', async () => {
      rig.node.setHwTc(PF, 'off');
      const config = pod('mul-hwtc');
      api.setPod(podObject(config, { 'v1.multus-cni.io/default-network': 'default/default' }, true));
      rig.cluster.spec.pods![`default/mul-hwtc`] = { 'v1.multus-cni.io/default-network': 'default/default' };
      give(config, [VF0]);
      const r = await run(config);
      expect(r.error).toBeInstanceOf(CriCallError);
      const { details } = r.error!;
      // What `kubectl describe pod` shows: Multus's wrapping, then the plugin's msg and its fix.
      expect(details).toContain('plugin type="kube-ovn-offload" failed (add)');
      expect(details).toContain(`hw-tc-offload is off on uplink ${rig.node.pf().uplink}`);
      expect(details).toContain(`ethtool -K ${rig.node.pf().uplink} hw-tc-offload on`);
      expect(rig.daemon.requests.filter((q) => q.path === '/api/v1/add' && q.body.pod_name === 'mul-hwtc')).toEqual([]);
      expect((await cd.cri.listPodSandbox()).res.items).toEqual([]);
    });

    it('a secondary network with the capabilities declared: the device-info file gains the PF and the representor, and network-status shows them', async () => {
      const config = pod('mul-sec');
      api.setPod(podObject(config, { 'k8s.v1.cni.cncf.io/networks': `${SECONDARY.namespace}/${SECONDARY.name}` }, true));
      rig.cluster.spec.pods![`default/mul-sec`] = { 'k8s.v1.cni.cncf.io/networks': `${SECONDARY.namespace}/${SECONDARY.name}` };
      give(config, [VF0]);
      // As the SR-IOV device plugin writes it at Allocate; Multus copies it for the attachment.
      host.writeDevicePluginInfo(RESOURCE, VF0);
      const r = await run(config);
      expect(r.error).toBeUndefined();
      const statuses = networkStatus(config)!;
      const net1 = statuses.find((s) => s.interface === 'net1');
      expect(net1).toMatchObject({
        name: `${SECONDARY.namespace}/${SECONDARY.name}`,
        ips: [expect.stringMatching(/^10\.18\.0\.\d+$/)],
        'device-info': { type: 'pci', version: '1.1.0', pci: { 'pci-address': VF0, 'pf-pci-address': PF, 'representor-device': representorHostName(r.id!, 'net1') } },
      });
      expect(statuses.find((s) => s.interface === 'eth0')).toMatchObject({ name: `kube-system/${CLUSTER_NAD}`, default: true });
      await cd.cri.stopPodSandbox(r.id!);
      await cd.cri.removePodSandbox(r.id!);
      // Multus removes its copy at DEL.
      expect(readdirSync(DEVINFO_CNI)).toEqual([]);
    });
  });

  describe('thick: containerd runs multus-shim, multus-daemon runs the clusterNetwork\'s list', () => {
    let cd: Containerd;
    let daemon: ResultPromise | undefined;
    let tlsApi: FakeApi;
    let account: MultusHostPaths | undefined;
    const dir = () => join(rig.dir, 'thick');
    const pod = (name: string) => podSandboxConfig(name, { cgroupParent: cd.cgroupParent });

    beforeAll(async () => {
      mkdirSync(join(dir(), 'run'), { recursive: true });
      mkdirSync(join(dir(), 'pki'), { recursive: true });
      const ca = await makeTestCa(join(dir(), 'pki'));
      const token = 'kovo-e2e-service-account-token';
      account = multusHostPaths({ dir: dir(), serviceAccount: { token, caPem: ca.caPem } });
      tlsApi = await startFakeApiServer({ pods: [], nads: [], protoDir: MULTUS_VENDOR, tls: { cert: ca.certPath, key: ca.keyPath }, token });
      // Guard as the clusterNetwork: pods without a VF pass through (offload.require_vf false).
      tlsApi.setNad(guardNad('kube-system', 'offload-cluster', 'ovn', { offload: { require_vf: false } }));
      const daemonConfig = {
        chrootDir: '',
        cniVersion: '0.3.1',
        logLevel: 'debug',
        logToStderr: false,
        logFile: join(dir(), 'multus-daemon.log'),
        socketDir: join(dir(), 'run'),
        cniConfigDir: join(dir(), 'net.d'),
        multusConfigFile: join(dir(), 'multus-shim.conf'),
        confDir: join(dir(), 'multus-net.d'),
        cniDir: join(dir(), 'cache'),
        binDir: join(rig.dir, 'plugins'),
        multusNamespace: 'kube-system',
        clusterNetwork: 'offload-cluster',
      };
      mkdirSync(join(dir(), 'net.d'), { recursive: true });
      writeFileSync(join(dir(), 'multus-shim.conf'), JSON.stringify({ cniVersion: '0.3.1', name: 'multus-cni-network', type: 'multus-shim', daemonSocketDir: join(dir(), 'run') }));
      writeFileSync(join(dir(), 'daemon-config.json'), JSON.stringify(daemonConfig));
      daemon = execa(MULTUS_DAEMON, ['-config', join(dir(), 'daemon-config.json')], {
        env: { ...rig.env, PATH: `${rig.env.PATH}:/usr/sbin:/sbin`, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(tlsApi.port) },
        extendEnv: false,
        reject: false,
        timeout: 600_000,
        stdout: { file: join(dir(), 'multus-daemon.out') },
        stderr: { file: join(dir(), 'multus-daemon.err') },
      });
      for (let i = 0; i < 100 && !existsSync(join(dir(), 'run', 'multus.sock')); i++) await new Promise((r) => setTimeout(r, 100));
      if (!existsSync(join(dir(), 'run', 'multus.sock'))) throw new Error(`multus-daemon did not come up: ${readFileSync(join(dir(), 'multus-daemon.err'), 'utf8').slice(-2000)}`);
      cd = await startContainerd({
        plugins: { 'multus-shim': MULTUS_SHIM, loopback: '/usr/lib/cni/loopback' },
        conflists: { '00-multus.conflist': { cniVersion: '0.3.1', name: 'multus-cni-network', plugins: [{ type: 'multus-shim', daemonSocketDir: join(dir(), 'run'), logLevel: 'debug', logFile: join(dir(), 'multus-shim.log'), capabilities: { portMappings: true } }] } },
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      });
    }, 300_000);

    afterEach(async () => {
      for (const s of (await cd.cri.listPodSandbox()).res.items) {
        await cd.cri.stopPodSandbox(s.id).catch(() => undefined);
        await cd.cri.removePodSandbox(s.id).catch(() => undefined);
      }
      expect(records()).toEqual([]);
      expect(locks()).toEqual([]);
      expect(filesUnder(join(dir(), 'cache'))).toEqual([]);
      expect(cd.netnsLeft()).toEqual([]);
    });

    afterAll(async () => {
      try {
        await cd?.stop();
      } finally {
        daemon?.kill('SIGTERM');
        await daemon;
        await tlsApi?.stop();
        account?.remove();
      }
    }, 120_000);

    it('guard as clusterNetwork: a pod that requests the resource is checked and offloaded; one that does not passes through with no record', async () => {
      const withVf = pod('mul-cluster-vf');
      tlsApi.setPod(podObject(withVf, {}, true));
      give(withVf, [VF0]);
      const a = await cd.cri.runPodSandbox(withVf);
      const id = a.res.pod_sandbox_id;
      expect(logLines().find((l) => l.msg === 'offload checks' && l.containerID === id)).toMatchObject({ deviceID: VF0, pf: PF });
      expect(records()).toEqual([`${VF0}.json`]);
      expect((await cd.cri.podSandboxStatus(id)).res.status.network!.ip).toMatch(/^10\.16\.0\.\d+$/);

      const plain = pod('mul-cluster-plain');
      tlsApi.setPod(podObject(plain, {}, false));
      give(plain, []);
      const b = await cd.cri.runPodSandbox(plain);
      const plainId = b.res.pod_sandbox_id;
      expect(logLines().filter((l) => l.containerID === plainId).map((l) => l.msg)).toContain('no deviceID: passing through without offload checks (guard mode, offload.require_vf false)');
      expect(records()).toEqual([`${VF0}.json`]);
      // Thick: the daemon's in-cluster client wrote network-status, over TLS with the token.
      expect(tlsApi.calls().some((c) => c.method === 'PUT' && c.path === `/api/v1/namespaces/default/pods/mul-cluster-vf/status`)).toBe(true);
      for (const s of [id, plainId]) {
        await cd.cri.stopPodSandbox(s);
        await cd.cri.removePodSandbox(s);
      }
    });
  });
});
