/** `kube-ovn-offload manifests`, through the built bundle, on a simulated node. */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { SimNode, connectx5, type PfSpec } from '../support/sim-node.js';
import { PLUGIN_BIN } from '../support/plugin.js';

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

/** The CLI as an operator runs it: no CNI_COMMAND, the node's /sys under `root`. */
async function manifests(root: string, ...args: string[]) {
  const r = await execa(PLUGIN_BIN, ['manifests', ...args], {
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
const pluginOf = (nad: Record<string, any>) => JSON.parse(nad.spec.config).plugins[0];

describe('manifests', () => {
  it('prints the ConfigMap, NAD and Pod as three YAML documents, with selectors from the VFs', async () => {
    const out = await manifests(node().root, '--resource', 'cx5_sriov_switchdev');
    expect(out).toMatchObject({ exitCode: 0, stderr: '' });
    const [cm, nad, pod, ...rest] = documents(out.stdout);
    expect(rest).toEqual([]);
    expect(cm).toMatchObject({ kind: 'ConfigMap', metadata: { name: 'sriovdp-config', namespace: 'kube-system' } });
    expect(JSON.parse(cm!.data['config.json']).resourceList).toEqual([{
      resourcePrefix: 'mellanox.com',
      resourceName: 'cx5_sriov_switchdev',
      selectors: { vendors: ['15b3'], devices: ['1018'], drivers: ['mlx5_core'], pfNames: ['enp66s0f0np0'] },
    }]);
    expect(nad).toMatchObject({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'default', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/resourceName': RESOURCE } },
    });
    expect(pluginOf(nad!)).toMatchObject({ type: 'kube-ovn-offload', provider: 'default.default.ovn' });
    expect(pod).toMatchObject({
      kind: 'Pod',
      metadata: { annotations: { 'v1.multus-cni.io/default-network': 'default/default' } },
      spec: { containers: [{ resources: { requests: { [RESOURCE]: '1' }, limits: { [RESOURCE]: '1' } } }] },
    });
    expect(out.stdout).toContain('HW_OFFLOAD=true ENABLE_LB=false ENABLE_MIRROR=false IFACE=enp66s0f0np0');
    expect(out.stdout).toContain('Not generated yet: the DaemonSet');
  });

  it('--json prints the same objects as a JSON array', async () => {
    const root = node().root;
    const [yaml, json] = await Promise.all([
      manifests(root, '--resource', 'cx5_sriov_switchdev'),
      manifests(root, '--resource', 'cx5_sriov_switchdev', '--json'),
    ]);
    expect(json.exitCode).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(documents(yaml.stdout));
  });

  it('--nad and --provider name the NAD, the provider and the Pod\'s default network', async () => {
    const out = await manifests(node().root, '--resource', 'cx5_sriov_switchdev', '--nad', 'kube-system/offload', '--provider', 'x.y.ovn');
    expect(out.exitCode).toBe(0);
    const [, nad, pod] = documents(out.stdout);
    expect(nad!.metadata).toMatchObject({ namespace: 'kube-system', name: 'offload' });
    expect(pluginOf(nad!).provider).toBe('x.y.ovn');
    expect(pod!.metadata).toMatchObject({ namespace: 'kube-system', annotations: { 'v1.multus-cni.io/default-network': 'kube-system/offload' } });
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
    ['no --resource', [], '--resource NAME is required'],
    ['an unknown flag', ['--resource', 'r', '--nda', 'a/b'], "Unknown option '--nda'"],
  ])('2 with the help for %s', async (_, args, message) => {
    const out = await manifests(node().root, ...(args.includes('--resource') || !args.length ? args : ['--resource', 'r', ...args]));
    expect(out).toMatchObject({ exitCode: 2, stdout: '' });
    expect(out.stderr).toContain(message);
    expect(out.stderr).toContain('Usage: kube-ovn-offload manifests');
  });

  it('--help lists every flag with its default', async () => {
    const out = await manifests(node().root, '--help');
    expect(out.exitCode).toBe(0);
    for (const flag of ['--resource NAME', '--prefix DOMAIN', '--nad NS/NAME', '--provider P', '--cni-version V', '--image IMG', '--pf DEV', '--iface DEV', '--vendor-device V:D', '--driver NAME', '--json']) {
      expect(out.stdout).toContain(flag);
    }
    for (const def of ['mellanox.com', 'default/default', 'NAME.NS.ovn', '0.3.1', 'docker.io/library/nginx:alpine', 'mlx5_core']) {
      expect(out.stdout).toContain(`default ${def}`);
    }
  });
});
