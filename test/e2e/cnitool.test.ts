/**
 * End to end, as root, in both topologies of docs/topologies.md: libcni (our cnitool on Debian's
 * libcni) runs the NAD's plugin list as Multus hands it over (deviceID and pciBusID in every
 * plugin, Multus's CNI_ARGS) against pod netns on a simulated node whose VFs and representors
 * are real veth pairs, with the strict simulated daemon in a simulated cluster:
 * - guard: [kube-ovn-offload, kube-ovn (our stand-in for its binary), portmap]; the NAD keeps
 *   "type": "kube-ovn", so kube-ovn-controller allocates under default.default.ovn in its Subnet;
 * - shim: [kube-ovn-offload, portmap] as Multus's clusterNetwork, provider ovn; pods without a
 *   VF pass through.
 * Assertions read the result JSON, the kernel, OVSDB and the simulated node's PF.
 * Debian's libcni (1.1.2) knows CNI versions up to 1.0.0, so 1.1.0 results (pciID, mtu)
 * and STATUS/GC are covered by the integration suites, which invoke the plugin directly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { createRig, finishRig, isRoot, linkInfo, multusArgs, routes, type Rig } from '../support/e2e.js';
import { generateNicName } from '../support/sim-daemon.js';
import { PLUGIN_BIN, SEA_BIN } from '../support/plugin.js';
import { NAD_STATUS } from '../support/kube-ovn-cni.js';

const VF0 = '0000:42:00.2';
const records = (r: Rig): string[] => (existsSync(join(r.stateDir, 'vf')) ? readdirSync(join(r.stateDir, 'vf')) : []);
const ports = async (r: Rig): Promise<string[]> => (await r.ovs.vsctl('list-ports', 'br-int')).split('\n').filter(Boolean);
const adds = (r: Rig) => r.daemon.requests.filter((q) => q.path === '/api/v1/add');
/** A sandbox ID as containerd makes it: 64 hex characters. */
const sandboxId = () => randomBytes(32).toString('hex');
const nsName = (path: string) => path.split('/').pop()!;

describe.skipIf(!isRoot)('e2e through libcni (root)', () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    const done = rig;
    rig = undefined;
    await finishRig(done);
  });

  describe.each([
    ['the bundle', PLUGIN_BIN],
    ['the single executable', SEA_BIN],
  ])('guard: [kube-ovn-offload, kube-ovn, portmap], %s', (_, plugin) => {
    it.each(['0.3.1', '1.0.0'])('cniVersion %s: ours checks and records, kube-ovn\'s binary attaches the VF, DEL gives it back to the host', async (cniVersion) => {
      rig = await createRig({ plugin });
      const ns = await rig.netns();
      const sandbox = sandboxId();
      const pod = { namespace: 'default', name: `web-${rig.id}` };
      rig.conflist({ cniVersion, deviceID: VF0 });
      const { vf } = rig.node.vf(VF0);
      const vfName = vf.netdev!;
      const host = generateNicName(sandbox, 'eth0');

      const add = await rig.cnitool('add', ns, { containerId: sandbox, args: multusArgs(pod) });
      expect(add.stderr).not.toContain('CNI_ERROR');
      expect(add.exitCode).toBe(0);
      // The chain's result is kube-ovn's: the pod interface and the address of the NAD's Subnet.
      expect(add.json).toEqual({
        cniVersion,
        interfaces: [{ name: 'eth0', mac: '00:00:00:00:00:02', sandbox: ns }],
        ips: [{ ...(cniVersion === '0.3.1' ? { version: '4' } : {}), interface: 0, address: '10.17.0.2/16', gateway: '10.17.0.1' }],
        routes: [{ dst: '10.17.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.17.0.1' }],
        dns: {},
      });
      // The daemon was asked once, by kube-ovn's binary, with the VF Multus injected.
      expect(adds(rig).map((q) => q.body)).toEqual([expect.objectContaining({ cni_type: 'kube-ovn', container_id: sandbox, provider: 'default.default.ovn', deviceID: VF0, pod_name: pod.name })]);
      // The kernel: the VF is eth0 in the pod, the representor renamed, up, on br-int and bound.
      const eth0 = await linkInfo('eth0', nsName(ns));
      expect(eth0).toMatchObject({ address: '00:00:00:00:00:02', mtu: 1400, ifalias: vfName });
      expect(eth0!.addr_info).toContainEqual(expect.objectContaining({ family: 'inet', local: '10.17.0.2', prefixlen: 16 }));
      expect(await routes(nsName(ns))).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.17.0.1', dev: 'eth0' }));
      expect(await linkInfo(vfName)).toBeUndefined();
      expect((await linkInfo(host))?.flags).toContain('UP');
      expect(await ports(rig)).toEqual([host]);
      expect(await rig.ovs.vsctl('get', 'interface', host, 'external_ids:ovn-installed')).toBe('"true"');
      expect(rig.node.vf(VF0).vf.adminMac).toBe('00:00:00:00:00:02');
      // Our record names the representor as kube-ovn renamed it.
      expect(records(rig)).toEqual([`${VF0}.json`]);

      const check = await rig.cnitool('check', ns, { containerId: sandbox, args: multusArgs(pod) });
      if (cniVersion === '0.3.1') {
        expect(check.stderr).toContain('does not support the CHECK command');
      } else {
        expect(check.stderr).toBe('');
        expect(check.exitCode).toBe(0);
      }

      // StopPodSandbox: portmap, kube-ovn, ours (libcni deletes in reverse).
      const del = await rig.cnitool('del', ns, { containerId: sandbox, args: multusArgs(pod) });
      expect(del.stderr).toBe('');
      expect(del.exitCode).toBe(0);
      expect(rig.daemon.requests.at(-1)!.path).toBe('/api/v1/del');
      expect(await linkInfo('eth0', nsName(ns))).toBeUndefined();
      expect(await linkInfo(vfName)).toBeDefined(); // back on the host under its own name
      expect((await linkInfo(host))?.flags).not.toContain('UP');
      expect(await ports(rig)).toEqual([]);
      expect(rig.node.vf(VF0).vf.adminMac).toBe('00:00:00:00:00:00');
      expect(records(rig)).toEqual([]);
      // RemovePodSandbox: a second DEL, CNI_NETNS empty, no prevResult.
      const again = await rig.cnitool('del', '', { containerId: sandbox, args: multusArgs(pod) });
      expect(again.stderr).toBe('');
      expect(again.exitCode).toBe(0);
    });

    it('refuses a pod on an uplink with hw-tc-offload off (104): kube-ovn\'s binary never runs, the VF stays on the host', async () => {
      rig = await createRig({ plugin });
      const ns = await rig.netns();
      rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
      rig.node.setHwTc('0000:42:00.0', 'off');
      const vfName = rig.node.vf(VF0).vf.netdev!;

      const add = await rig.cnitool('add', ns);
      expect(add.error).toMatchObject({ code: 104, msg: `hw-tc-offload is off on uplink ${rig.node.pf().uplink}` });
      expect(add.error!.details).toContain(`ethtool -K ${rig.node.pf().uplink} hw-tc-offload on`);
      expect(rig.daemon.requests).toEqual([]);
      expect(await linkInfo(vfName)).toBeDefined();
      expect(records(rig)).toEqual([]);
      // The runtime's DEL after a failed ADD: kube-ovn's finds nothing to do, ours neither.
      expect((await rig.cnitool('del', ns)).exitCode).toBe(0);
      expect(await linkInfo(vfName)).toBeDefined();
    });
  });

  describe('guard: what a real cluster does around it', () => {
    it('the NAD without its Subnet on kube-ovn HEAD: ours passes, the daemon refuses kube-ovn\'s binary (11 "RPC failed"), DEL cleans up', async () => {
      rig = await createRig({ cluster: { subnets: [] } });
      const ns = await rig.netns();
      rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
      const add = await rig.cnitool('add', ns);
      expect(add.error).toMatchObject({ code: 11, msg: 'RPC failed' });
      expect(add.error!.details).toContain('provider default.default.ovn is not bound to any subnet');
      expect(records(rig)).toEqual([`${VF0}.json`]); // ours ran first
      expect((await rig.cnitool('del', ns)).exitCode).toBe(0);
      expect(records(rig)).toEqual([]);
    });

    it('takes what Multus thin and containerd really send: duplicated CNI_ARGS in random order, a sandbox ID, capitalised runtimeConfig keys', async () => {
      rig = await createRig();
      const ns = await rig.netns();
      const sandbox = sandboxId();
      const pod = { namespace: 'default', name: `web-${rig.id}` };
      // Our entry declares capabilities so that libcni hands it containerd's Go-capitalised keys
      // (docs/upstream.md#containerd-16); portmap is left without, so no host iptables rule is made.
      rig.conflist({ cniVersion: '1.0.0', deviceID: VF0, plugin: { capabilities: { dns: true, bandwidth: true } } });
      const capArgs = {
        dns: { Servers: ['10.96.0.10'], Searches: ['default.svc.cluster.local'], Options: ['ndots:5'] },
        bandwidth: { IngressRate: 10_000_000, IngressBurst: 4_294_967_295, EgressRate: 20_000_000, EgressBurst: 4_294_967_295 },
      };
      const args = multusArgs(pod, { thin: sandbox });
      expect(args.split(';').filter((p) => p.startsWith('K8S_POD_NAME='))).toHaveLength(2);

      const add = await rig.cnitool('add', ns, { containerId: sandbox, args, capArgs });
      expect(add.stderr).not.toContain('CNI_ERROR');
      expect(add.json!.ips).toEqual([{ interface: 0, address: '10.17.0.2/16', gateway: '10.17.0.1' }]);
      expect(adds(rig)[0]!.body).toMatchObject({ pod_name: pod.name, pod_namespace: 'default', container_id: sandbox });
      expect((await rig.cnitool('del', ns, { containerId: sandbox, args, capArgs })).exitCode).toBe(0);
      expect((await rig.cnitool('del', '', { containerId: sandbox, args })).exitCode).toBe(0);
      expect(records(rig)).toEqual([]);
    });

    it('as Multus runs a secondary network: libcni hands our entry the VF and the device-info file, which comes out naming the PF and the representor kube-ovn made', async () => {
      rig = await createRig();
      const ns = await rig.netns();
      const sandbox = sandboxId();
      // Multus's CNI path for the file (GetCNIDeviceInfoPath), here under the rig's folder; its copy of the device plugin's file.
      const file = join(rig.dir, 'devinfo', 'cni', `default-default-net1-device.json`);
      mkdirSync(join(rig.dir, 'devinfo', 'cni'), { recursive: true });
      writeFileSync(file, JSON.stringify({ type: 'pci', version: '1.0.0', pci: { 'pci-address': VF0 } }), { mode: 0o444 });
      rig.conflist({ cniVersion: '1.0.0', deviceID: VF0, plugin: { capabilities: { deviceID: true, CNIDeviceInfoFile: true } } });
      const add = await rig.cnitool('add', ns, { ifname: 'net1', containerId: sandbox, capArgs: { deviceID: VF0, CNIDeviceInfoFile: file } });
      expect(add.stderr).not.toContain('CNI_ERROR');
      const [port] = await ports(rig);
      expect(port).toBe(`${sandbox.slice(0, 8)}_net1_h`);
      const status = await execa(NAD_STATUS, ['default/default', 'net1', file], { timeout: 10_000 });
      expect(JSON.parse(status.stdout)['device-info']).toEqual({ type: 'pci', version: '1.1.0', pci: { 'pci-address': VF0, 'pf-pci-address': rig.node.pf().pci, 'representor-device': port } });
      expect((await rig.cnitool('del', ns, { ifname: 'net1', containerId: sandbox, capArgs: { deviceID: VF0, CNIDeviceInfoFile: file } })).exitCode).toBe(0);
    });

    it('refuses an ifname longer than 12 (4) before kube-ovn\'s daemon could crash on it; takes KubeVirt\'s "pod" + 11 under kube-ovn\'s name', async () => {
      rig = await createRig();
      const ns = await rig.netns();
      rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
      const long = await rig.cnitool('add', ns, { ifname: 'net1234567890' });
      expect(long.error).toMatchObject({ code: 4, msg: 'CNI_IFNAME "net1234567890" is too long for kube-ovn' });
      expect(rig.daemon.requests).toEqual([]);

      const sandbox = sandboxId();
      const kubevirt = await rig.cnitool('add', ns, { ifname: 'pod16367aacb67', containerId: sandbox });
      expect(kubevirt.stderr).not.toContain('CNI_ERROR');
      // generateNicName cuts "pod16367aacb67" to its characters 3–9 so the name fits 15 bytes.
      expect(await ports(rig)).toEqual([`${sandbox.slice(0, 5)}_16367aa_h`]);
      expect((await rig.cnitool('check', ns, { ifname: 'pod16367aacb67', containerId: sandbox })).exitCode).toBe(0);
      expect((await rig.cnitool('del', ns, { ifname: 'pod16367aacb67', containerId: sandbox })).exitCode).toBe(0);
    });

    it('a VF still inside a previous pod\'s netns is 11 (try again), not 108', async () => {
      rig = await createRig();
      const [a, b] = [await rig.netns(), await rig.netns()];
      rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
      expect((await rig.cnitool('add', a, { args: multusArgs({ namespace: 'default', name: 'a' }) })).exitCode).toBe(0);
      // Pod a's record lost (its DEL never came, a node rebuilt): only sysfs can tell.
      rmSync(join(rig.stateDir, 'vf', `${VF0}.json`));
      const refused = await rig.cnitool('add', b, { args: multusArgs({ namespace: 'default', name: 'b' }) });
      expect(refused.error).toMatchObject({ code: 11, msg: `VF ${VF0} has no network device in the host netns: it is still inside a previous pod's netns` });
      expect(adds(rig)).toHaveLength(1);
    });
  });

  describe('shim: [kube-ovn-offload, portmap] as Multus\'s clusterNetwork', () => {
    it.each(['0.3.1', '1.0.0'])('cniVersion %s: ADD → CHECK → DEL forwards to the daemon, the pod on the default ovn network, the VF back on the host', async (cniVersion) => {
      rig = await createRig({ topology: 'shim' });
      const ns = await rig.netns();
      const sandbox = sandboxId();
      const host = generateNicName(sandbox, 'eth0');
      rig.conflist({ cniVersion, deviceID: VF0 });
      const vfName = rig.node.vf(VF0).vf.netdev!;
      const sysctl = (key: string) => execa('ip', ['netns', 'exec', nsName(ns), 'sysctl', '-n', key], { timeout: 10_000 }).then((r) => String(r.stdout).trim());
      await execa('ip', ['netns', 'exec', nsName(ns), 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.accept_ra=1'], { timeout: 10_000 });

      const add = await rig.cnitool('add', ns, { containerId: sandbox });
      expect(add.stderr).not.toContain('CNI_ERROR');
      expect(add.json).toEqual({
        cniVersion,
        interfaces: [{ name: 'eth0', mac: '00:00:00:00:00:02', sandbox: ns }, { name: host, mac: 'ee:00:00:00:42:00' }],
        ips: [{ ...(cniVersion === '0.3.1' ? { version: '4' } : {}), interface: 0, address: '10.16.0.2/16', gateway: '10.16.0.1' }],
        routes: [{ dst: '10.16.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.16.0.1' }],
        dns: {}, // libcni's re-encoding of the result adds it
      });
      expect(adds(rig)[0]!.body).toMatchObject({ provider: 'ovn', deviceID: VF0, container_id: sandbox });
      expect(await linkInfo('eth0', nsName(ns))).toMatchObject({ ifalias: vfName, address: '00:00:00:00:00:02' });
      // IPv6 on and RAs off in the pod, as kube-ovn's binary leaves it.
      expect([await sysctl('net.ipv6.conf.all.disable_ipv6'), await sysctl('net.ipv6.conf.default.accept_ra')]).toEqual(['0', '0']);

      const check = await rig.cnitool('check', ns, { containerId: sandbox });
      expect(check.exitCode).toBe(cniVersion === '0.3.1' ? 1 : 0);

      const del = await rig.cnitool('del', ns, { containerId: sandbox });
      expect(del.stderr).toBe('');
      expect(await linkInfo(vfName)).toBeDefined();
      expect(await ports(rig)).toEqual([]);
      expect(records(rig)).toEqual([]);
      expect(rig.daemon.requests.at(-1)!.body).toMatchObject({ deviceID: VF0, net_ns: ns, routes: null, vf_driver: '' });
    });

    it('passes a pod without a VF straight through: forwarded as kube-ovn\'s binary would, no checks, no record', async () => {
      rig = await createRig({ topology: 'shim' });
      const ns = await rig.netns();
      rig.conflist({ cniVersion: '1.0.0' }); // no resourceName request: Multus injects no deviceID
      rig.node.setMode('0000:42:00.0', 'legacy'); // offload checks would refuse; none run

      const add = await rig.cnitool('add', ns);
      expect(add.stderr).not.toContain('CNI_ERROR');
      expect(add.json!.interfaces).toEqual([{ name: 'eth0', mac: '00:00:00:00:00:02', sandbox: ns }]);
      expect(adds(rig)[0]!.body).toMatchObject({ deviceID: '', provider: 'ovn' });
      expect((await linkInfo('eth0', nsName(ns)))!.addr_info).toContainEqual(expect.objectContaining({ local: '10.16.0.2' }));
      expect(records(rig)).toEqual([]);
      expect((await rig.cnitool('check', ns)).exitCode).toBe(0);
      expect((await rig.cnitool('del', ns)).exitCode).toBe(0);
      expect(await linkInfo('eth0', nsName(ns))).toBeUndefined();
      expect(await ports(rig)).toEqual([]);
    });

    it('refuses a pod whose eSwitch is in legacy mode (103) without calling the daemon', async () => {
      rig = await createRig({ topology: 'shim' });
      const ns = await rig.netns();
      rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
      rig.node.setMode('0000:42:00.0', 'legacy');
      const add = await rig.cnitool('add', ns);
      expect(add.error).toMatchObject({ code: 103, msg: 'the eSwitch of PF 0000:42:00.0 is in legacy mode, not switchdev' });
      expect(add.error!.details).toContain('devlink dev eswitch set pci/0000:42:00.0 mode switchdev');
      expect(rig.daemon.requests.filter((q) => q.path === '/api/v1/add')).toEqual([]);
    });

    it('DEL with an empty CNI_NETNS and a record (the first DEL never came) removes the port, resets the VF MAC', async () => {
      rig = await createRig({ topology: 'shim' });
      const ns = await rig.netns();
      const sandbox = sandboxId();
      rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
      expect((await rig.cnitool('add', ns, { containerId: sandbox })).exitCode).toBe(0);
      const del = await rig.cnitool('del', '', { containerId: sandbox });
      expect(del.stderr).toBe('');
      expect(rig.daemon.requests.at(-1)!.body).toMatchObject({ net_ns: '' }); // the daemon skips it (204)
      expect(await ports(rig)).toEqual([]);
      expect(rig.node.vf(VF0).vf.adminMac).toBe('00:00:00:00:00:00');
      expect(records(rig)).toEqual([]);
    });

    it('removes a stale br-int port named as the representor will be when its pod\'s netns is gone; 11 while that pod lives', async () => {
      rig = await createRig({ topology: 'shim' });
      const [live, mine] = [await rig.netns(), await rig.netns()];
      const sandbox = sandboxId();
      const host = generateNicName(sandbox, 'eth0');
      rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
      const stale = (podNetns: string) => rig!.ovs.vsctl('--may-exist', 'add-port', 'br-int', host, '--', 'set', 'interface', host, 'type=internal',
        'external_ids:pod_name=old', 'external_ids:pod_namespace=default', `external_ids:pod_netns=${podNetns}`);

      await stale(live);
      const busy = await rig.cnitool('add', mine, { containerId: sandbox });
      expect(busy.error).toMatchObject({ code: 11, msg: `br-int already has a port ${host}, of pod default/old` });

      await rig.ovs.vsctl('set', 'interface', host, 'external_ids:pod_netns=/var/run/netns/gone-long-ago');
      const add = await rig.cnitool('add', mine, { containerId: sandbox });
      expect(add.stderr).not.toContain('CNI_ERROR');
      expect(await rig.ovs.vsctl('get', 'interface', host, 'external_ids:pod_netns')).toBe(`"${mine}"`);
      expect((await rig.cnitool('del', mine, { containerId: sandbox })).exitCode).toBe(0);
    });

    it('11 naming ovn-controller when the port is never bound (the daemon\'s 30 s ovn-installed wait)', async () => {
      rig = await createRig({ topology: 'shim', daemon: { ovnController: 'down' } });
      const ns = await rig.netns();
      const sandbox = sandboxId();
      rig.conflist({ cniVersion: '1.0.0', deviceID: VF0 });
      const add = await rig.cnitool('add', ns, { containerId: sandbox });
      expect(add.error).toMatchObject({ code: 11, msg: `ovn-controller did not bind port ${generateNicName(sandbox, 'eth0')} within 30s` });
      expect(add.error!.details).toContain('ovn-installed');
      // The daemon had begun on the NIC ("configure nic … failed"): the VF stays on record for DEL.
      expect(records(rig)).toEqual([`${VF0}.json`]);
      expect((await rig.cnitool('del', ns, { containerId: sandbox })).exitCode).toBe(0);
      expect(records(rig)).toEqual([]);
    });
  });

  describe('the old NAD, kube-ovn-offload where "type": "kube-ovn" stood, on a strict cluster', () => {
    const oldNad = { namespace: 'default', name: 'default', config: { plugins: [{ type: 'kube-ovn-offload' }, { type: 'portmap' }] } };
    const annotated = { 'v1.multus-cni.io/default-network': 'default/default' };
    const run = async (cluster: NonNullable<Parameters<typeof createRig>[0]>['cluster']) => {
      rig = await createRig({ topology: 'shim', cluster: { nads: [oldNad], anyPod: annotated, subnets: [], ...cluster }, daemon: { waitMs: { address: 100 } } });
      const ns = await rig.netns();
      rig.conflist({ cniVersion: '1.0.0', deviceID: VF0, plugin: { provider: 'default.default.ovn' } });
      return rig.cnitool('add', ns);
    };

    it('kube-ovn HEAD refuses it at once: 7, naming the Subnet to create', async () => {
      const add = await run({ version: 'head' });
      expect(add.error).toMatchObject({ code: 7, msg: 'kube-ovn has no Subnet for provider default.default.ovn' });
      expect(add.error!.details).toContain('provider default.default.ovn is not bound to any subnet');
    });

    it('kube-ovn v1.16.2 never allocates it an address, Subnet or not: 11 naming the NAD-type and provider rules', async () => {
      for (const subnets of [[], [{ name: 'offload', provider: 'default.default.ovn', cidrBlock: '10.17.0.0/16', gateway: '10.17.0.1' }]]) {
        const add = await run({ version: 'v1.16.2', subnets });
        expect(add.error).toMatchObject({ code: 11, msg: `kube-ovn allocated no address to pod default/nginx-${rig!.id} for provider default.default.ovn` });
        expect(add.error!.details).toContain('"type": "kube-ovn" (IsOvnNetwork)');
        await finishRig(rig);
        rig = undefined;
      }
    });
  });
});
