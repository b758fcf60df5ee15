/** `kube-ovn-offload manifests`, through the built bundle, on a simulated node. */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { SimNode, connectx5, type PfSpec } from '../support/sim-node.js';
import { PLUGIN_BIN, SEA_BIN } from '../support/plugin.js';

const RESOURCE = 'mellanox.com/cx5_sriov_switchdev';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function node(...pfs: PfSpec[]): SimNode {
  const n = new SimNode({ pfs: pfs.length ? pfs : [connectx5()] });
  cleanup.push(() => n.remove());
  return n;
}

/** The CLI as an operator runs it: no CNI_COMMAND, the node's /sys under `root`; a last `{ bin }` runs another build. */
async function manifests(root: string, ...args: Array<string | { bin: string }>) {
  const last = args.at(-1);
  const bin = typeof last === 'object' ? last.bin : PLUGIN_BIN;
  const flags = args.filter((a): a is string => typeof a === 'string');
  const r = await execa(bin, ['manifests', ...flags], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', KUBE_OVN_OFFLOAD_SYSFS_ROOT: root },
    extendEnv: false,
    reject: false,
    timeout: 30_000,
  });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The YAML stream as objects; fails on any parse error. */
function documents(stdout: string): Array<Record<string, any>> {
  const docs = parseAllDocuments(stdout);
  expect(docs.flatMap((d) => d.errors)).toEqual([]);
  return docs.map((d) => d.toJS() as Record<string, any>);
}

const selectorsOf = (cm: Record<string, any>) => JSON.parse(cm.data['config.json']).resourceList[0].selectors;
const pluginsOf = (nad: Record<string, any>) => JSON.parse(nad.spec.config).plugins as Array<Record<string, any>>;
const kinds = (docs: Array<Record<string, any>>) => docs.map((d) => d.kind);

describe('manifests', () => {
  it('guard by default: ConfigMap, DaemonSet, NAD, Subnet and Pod as YAML documents, with selectors from the VFs', async () => {
    const out = await manifests(node().root, '--resource', 'cx5_sriov_switchdev');
    expect(out).toMatchObject({ exitCode: 0, stderr: '' });
    const docs = documents(out.stdout);
    expect(kinds(docs)).toEqual(['ConfigMap', 'DaemonSet', 'NetworkAttachmentDefinition', 'Subnet', 'Pod']);
    const [cm, ds, nad, subnet, pod] = docs;
    expect(cm).toMatchObject({ kind: 'ConfigMap', metadata: { name: 'sriovdp-config', namespace: 'kube-system' } });
    expect(JSON.parse(cm!.data['config.json']).resourceList).toEqual([{
      resourcePrefix: 'mellanox.com',
      resourceName: 'cx5_sriov_switchdev',
      selectors: { vendors: ['15b3'], devices: ['1018'], drivers: ['mlx5_core'], pfNames: ['enp66s0f0np0'] },
    }]);
    expect(ds).toEqual(parse(readFileSync(new URL('../../deploy/daemonset.yaml', import.meta.url), 'utf8')));
    expect(nad).toMatchObject({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'default', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/resourceName': RESOURCE } },
    });
    expect(JSON.parse(nad!.spec.config).cniVersion).toBe('0.3.1');
    expect(pluginsOf(nad!)).toEqual([
      { type: 'kube-ovn-offload', mode: 'guard', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', capabilities: { deviceID: true, CNIDeviceInfoFile: true }, log_file: '/var/log/kube-ovn/kube-ovn-offload.log' },
      { type: 'kube-ovn', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', provider: 'default.default.ovn' },
      { type: 'portmap', capabilities: { portMappings: true } },
    ]);
    expect(subnet).toEqual({
      apiVersion: 'kubeovn.io/v1',
      kind: 'Subnet',
      metadata: { name: 'default-default' },
      spec: { protocol: 'IPv4', cidrBlock: '10.17.0.0/16', gateway: '10.17.0.1', excludeIps: ['10.17.0.1'], provider: 'default.default.ovn', natOutgoing: true },
    });
    expect(pod).toMatchObject({
      kind: 'Pod',
      metadata: { annotations: { 'v1.multus-cni.io/default-network': 'default/default' } },
      spec: { containers: [{ resources: { requests: { [RESOURCE]: '1' }, limits: { [RESOURCE]: '1' } } }] },
    });
    expect(out.stdout).toContain('HW_OFFLOAD=true ENABLE_LB=false ENABLE_MIRROR=false IFACE=enp66s0f0np0');
    expect(out.stdout).not.toContain('Not generated yet');
  });

  it('--topology shim: ConfigMap, DaemonSet, a clusterNetwork NAD in kube-system and a Pod without annotation; no Subnet', async () => {
    const out = await manifests(node().root, '--resource', 'cx5_sriov_switchdev', '--topology', 'shim');
    expect(out).toMatchObject({ exitCode: 0, stderr: '' });
    const docs = documents(out.stdout);
    expect(kinds(docs)).toEqual(['ConfigMap', 'DaemonSet', 'NetworkAttachmentDefinition', 'Pod']);
    const [, , nad, pod] = docs;
    expect(nad!.metadata).toEqual({ name: 'kube-ovn-offload', namespace: 'kube-system', annotations: { 'k8s.v1.cni.cncf.io/resourceName': RESOURCE } });
    expect(JSON.parse(nad!.spec.config)).toEqual({
      cniVersion: '1.0.0',
      name: 'kube-ovn',
      plugins: [
        { type: 'kube-ovn-offload', mode: 'shim', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', provider: 'ovn', log_file: '/var/log/kube-ovn/kube-ovn-offload.log' },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
    expect(pod!.metadata).toEqual({ name: 'offload-example', namespace: 'default' });
    expect(pod!.spec.containers[0].resources.limits).toEqual({ [RESOURCE]: '1' });
    expect(out.stdout).toContain('#     "clusterNetwork": "kube-ovn-offload",\n');
    expect(out.stdout).toContain('#       "clusterNetwork": "kube-ovn-offload"\n');
  });

  it('--topology shim --multus-namespace puts the NAD, and Multus\'s multusNamespace, there', async () => {
    const out = await manifests(node().root, '--resource', 'r', '--topology', 'shim', '--multus-namespace', 'multus', '--cni-version', '1.1.0');
    expect(out.exitCode).toBe(0);
    const nad = documents(out.stdout)[2]!;
    expect(nad.metadata).toMatchObject({ name: 'kube-ovn-offload', namespace: 'multus' });
    expect(JSON.parse(nad.spec.config).cniVersion).toBe('1.1.0');
    expect(out.stdout).toContain('#     "multusNamespace": "multus",\n');
  });

  it.each([[[]], [['--topology', 'shim']]])('--json prints the same objects as a JSON array (%j)', async (topology) => {
    const root = node().root;
    const [yaml, json] = await Promise.all([
      manifests(root, '--resource', 'cx5_sriov_switchdev', ...topology),
      manifests(root, '--resource', 'cx5_sriov_switchdev', ...topology, '--json'),
    ]);
    expect(json).toMatchObject({ exitCode: 0, stderr: '' });
    expect(JSON.parse(json.stdout)).toEqual(documents(yaml.stdout));
  });

  it('--nad and --provider name the NAD, kube-ovn\'s provider, the Subnet and the Pod\'s default network', async () => {
    const out = await manifests(node().root, '--resource', 'cx5_sriov_switchdev', '--nad', 'kube-system/offload', '--provider', 'x.y.ovn');
    expect(out.exitCode).toBe(0);
    const [, , nad, subnet, pod] = documents(out.stdout);
    expect(nad!.metadata).toMatchObject({ namespace: 'kube-system', name: 'offload' });
    expect(pluginsOf(nad!).map((p) => p.provider)).toEqual([undefined, 'x.y.ovn', undefined]);
    expect(subnet).toMatchObject({ metadata: { name: 'offload-kube-system' }, spec: { provider: 'x.y.ovn' } });
    expect(pod!.metadata).toMatchObject({ namespace: 'kube-system', annotations: { 'v1.multus-cni.io/default-network': 'kube-system/offload' } });
  });

  it('--cidr sets the Subnet\'s CIDR, family and gateway', async () => {
    const out = await manifests(node().root, '--resource', 'r', '--cidr', '10.17.0.0/16,fd00:10:17::/112');
    expect(out.exitCode).toBe(0);
    expect(documents(out.stdout)[3]!.spec).toMatchObject({ protocol: 'Dual', cidrBlock: '10.17.0.0/16,fd00:10:17::/112', gateway: '10.17.0.1,fd00:10:17::1', excludeIps: ['10.17.0.1', 'fd00:10:17::1'] });
  });

  it.each([
    [[], ['vfio-pci', 'vfio-pci', undefined]],
    [['--topology', 'shim'], ['vfio-pci', undefined]],
  ])('--vf-driver %j writes vf_driver into every entry that reads it', async (topology, want) => {
    const out = await manifests(node().root, '--resource', 'r', ...topology, '--vf-driver', 'vfio-pci');
    expect(out.exitCode).toBe(0);
    expect(pluginsOf(documents(out.stdout)[2]!).map((p) => p.vf_driver)).toEqual(want);
  });

  it('--pf keeps to one PF of two; without it both are matched', async () => {
    const root = node(connectx5(), connectx5({ pci: '0000:43:00.0', prefix: 'enp67s0f0' })).root;
    const both = documents((await manifests(root, '--resource', 'r')).stdout);
    expect(selectorsOf(both[0]!).pfNames).toEqual(['enp66s0f0np0', 'enp67s0f0np0']);
    const one = await manifests(root, '--resource', 'r', '--pf', 'enp67s0f0np0');
    expect(selectorsOf(documents(one.stdout)[0]!).pfNames).toEqual(['enp67s0f0np0']);
    expect(one.stdout).toContain('IFACE=enp67s0f0np0');
  });

  it('1 when the node has no Mellanox VF, saying what to run first', async () => {
    const out = await manifests(node(connectx5({ vfs: 0 })).root, '--resource', 'cx5_sriov_switchdev');
    expect(out).toMatchObject({ exitCode: 1, stdout: '' });
    expect(out.stderr).toContain('no Mellanox VF on this node');
    expect(out.stderr).toContain('kube-ovn-offload setup --pf enp66s0f0np0 --vfs 8');
  });

  it('--vendor-device and --driver write the manifests without reading any node', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'kovo-empty-'));
    cleanup.push(() => rmSync(empty, { recursive: true, force: true }));
    const out = await manifests(empty, '--resource', 'cx6', '--vendor-device', '15b3:101e', '--driver', 'mlx5_core', '--pf', 'ens1f0np0');
    expect(out.exitCode).toBe(0);
    expect(selectorsOf(documents(out.stdout)[0]!)).toEqual({ vendors: ['15b3'], devices: ['101e'], drivers: ['mlx5_core'], pfNames: ['ens1f0np0'] });
  });

  it.each([
    ['--nad without a namespace', ['--nad', 'offload'], '--nad "offload": expected NAMESPACE/NAME'],
    ['--nad with an invalid namespace', ['--nad', 'Kube_System/offload'], 'DNS-1123 label'],
    ['a guard --nad name with a dot', ['--nad', 'default/off.load'], '--nad "default/off.load": the name must be a DNS-1123 label, e.g. default: kube-ovn splits the provider NAME.NS.ovn at its dots'],
    ['no --resource', [], '--resource NAME is required'],
    ['an unknown flag', ['--resource', 'r', '--nda', 'a/b'], "Unknown option '--nda'"],
    ['an unknown topology', ['--topology', 'chain'], '--topology "chain": must be guard or shim'],
    ['a --cidr with host bits', ['--cidr', '10.17.0.1/16'], '--cidr "10.17.0.1/16": 10.17.0.1/16 has host bits set: the network is 10.17.0.0/16'],
    ['a --cidr that is no CIDR', ['--cidr', '10.17.0.0'], '--cidr "10.17.0.0": "10.17.0.0" is not a CIDR such as 10.17.0.0/16'],
    ['a --cidr kube-ovn refuses', ['--cidr', '169.254.0.0/16'], 'overlaps 169.254.0.0/16 (link-local), which kube-ovn refuses for a Subnet'],
    ['a --vf-driver that is no driver name', ['--vf-driver', 'vfio pci'], '--vf-driver "vfio pci": is not a driver name'],
    ['--multus-namespace with guard', ['--multus-namespace', 'kube-system'], '--multus-namespace "kube-system": goes with --topology shim'],
    ['--cidr with shim', ['--topology', 'shim', '--cidr', '10.17.0.0/16'], '--cidr "10.17.0.0/16": goes with --topology guard; shim pods get addresses of kube-ovn\'s default network'],
    ['--provider with shim', ['--topology', 'shim', '--provider', 'x.y.ovn'], '--provider "x.y.ovn": goes with --topology guard; the shim forwards as kube-ovn\'s default network, provider ovn'],
    ['a shim --nad outside the Multus namespace', ['--topology', 'shim', '--nad', 'default/offload'], '--nad "default/offload": the shim NAD must be in Multus\'s namespace kube-system (--multus-namespace), where Multus looks its clusterNetwork up by name'],
    ['a shim --nad outside a --multus-namespace', ['--topology', 'shim', '--multus-namespace', 'multus', '--nad', 'kube-system/offload'], 'must be in Multus\'s namespace multus'],
  ])('2 with the help for %s', async (_, args, message) => {
    const out = await manifests(node().root, ...(args.includes('--resource') || !args.length ? args : ['--resource', 'r', ...args]));
    expect(out).toMatchObject({ exitCode: 2, stdout: '' });
    expect(out.stderr).toContain(message);
    expect(out.stderr).toContain('Usage: kube-ovn-offload manifests');
  });

  it('--help lists every flag with its default', async () => {
    const out = await manifests(node().root, '--help');
    expect(out.exitCode).toBe(0);
    for (const flag of ['--resource NAME', '--topology T', '--prefix DOMAIN', '--nad NS/NAME', '--provider P', '--cidr CIDR', '--multus-namespace NS', '--vf-driver DRIVER', '--cni-version V', '--image IMG', '--pf DEV', '--iface DEV', '--vendor-device V:D', '--driver NAME', '--json']) {
      expect(out.stdout).toContain(flag);
    }
    for (const def of ['guard', 'mellanox.com', 'default/default for guard', 'NAME.NS.ovn', '10.17.0.0/16', 'kube-system', 'none', '0.3.1 for guard, 1.0.0 for shim', 'docker.io/library/nginx:alpine', 'mlx5_core']) {
      expect(out.stdout).toContain(`default ${def}`);
    }
  });
});

// The executable carries deploy/daemonset.yaml through esbuild's text loader in the --sea build too.
describe.skipIf(!existsSync(SEA_BIN))('manifests from the single executable', () => {
  it('prints what the bundle prints, the DaemonSet included', async () => {
    const root = node().root;
    const [bundle, sea] = await Promise.all([
      manifests(root, '--resource', 'cx5_sriov_switchdev'),
      manifests(root, '--resource', 'cx5_sriov_switchdev', { bin: SEA_BIN }),
    ]);
    expect(sea).toMatchObject({ exitCode: 0, stderr: '' });
    expect(sea.stdout).toBe(bundle.stdout);
    expect(documents(sea.stdout)[1]).toMatchObject({ kind: 'DaemonSet', metadata: { name: 'kube-ovn-offload' } });
  });
});
