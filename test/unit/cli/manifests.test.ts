/**
 * The manifests builder, pure: the objects for a fixed input in both topologies, the selectors
 * from an inventory, the YAML stream, and the objects checked against the Kubernetes API schemas
 * (kubernetes-models), the NetworkAttachmentDefinition CRD's schema and kube-ovn's own Subnet CRD
 * schema (ajv), and each plugin entry against the plugin's own config parser.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { ConfigMap, Pod } from 'kubernetes-models/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import {
  buildManifests,
  objectsOf,
  prettyJson,
  renderJson,
  renderYaml,
  selectorsFromInventory,
  wrap,
  type ManifestInput,
} from '../../../src/cli/manifests.js';
import { parseConfig } from '../../../src/cni/config.js';
import type { PfInventory, VfInventory } from '../../../src/node/inventory.js';
import { invalid } from '../../support/k8s.js';

const repoText = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

const SELECTORS = { vendors: ['15b3'], devices: ['1018'], drivers: ['mlx5_core'], pfNames: ['enp66s0f0np0'] };
/** What the flags give both topologies alike. */
const BOTH = {
  resource: 'cx5_sriov_switchdev',
  prefix: 'mellanox.com',
  image: 'docker.io/library/nginx:alpine',
  iface: 'enp66s0f0np0',
  selectors: SELECTORS,
};
const INPUT: ManifestInput = { ...BOTH, topology: 'guard', nad: { namespace: 'default', name: 'default' }, cniVersion: '0.3.1', cidr: '10.17.0.0/16' };
const SHIM: ManifestInput = {
  ...BOTH,
  topology: 'shim',
  nad: { namespace: 'kube-system', name: 'kube-ovn-offload' },
  multusNamespace: 'kube-system',
  cniVersion: '1.0.0',
};
const guard = (over: Partial<Extract<ManifestInput, { topology: 'guard' }>> = {}): ManifestInput => ({ ...INPUT, ...over } as ManifestInput);
const shim = (over: Partial<Extract<ManifestInput, { topology: 'shim' }>> = {}): ManifestInput => ({ ...SHIM, ...over } as ManifestInput);
const RESOURCE = 'mellanox.com/cx5_sriov_switchdev';
const SOCKET = '/run/openvswitch/kube-ovn-daemon.sock';
const LOG = '/var/log/kube-ovn/kube-ovn-offload.log';

/** The conflist inside a NAD, parsed. */
const conflist = (input: ManifestInput = INPUT) => JSON.parse(buildManifests(input).nad.spec.config) as Record<string, any>;
/** deploy/daemonset.yaml as objects. */
const daemonSetFile = () => parse(repoText('deploy/daemonset.yaml')) as Record<string, any>;

describe('buildManifests', () => {
  it('writes the device plugin ConfigMap the seed writes by hand, plus pfNames', () => {
    const { configMap } = buildManifests(INPUT);
    expect(configMap).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sriovdp-config', namespace: 'kube-system' } });
    expect(Object.keys(configMap.data)).toEqual(['config.json']);
    expect(JSON.parse(configMap.data['config.json']!)).toEqual({
      resourceList: [{
        resourcePrefix: 'mellanox.com',
        resourceName: 'cx5_sriov_switchdev',
        selectors: { vendors: ['15b3'], devices: ['1018'], drivers: ['mlx5_core'], pfNames: ['enp66s0f0np0'] },
      }],
    });
  });

  it.each([['guard', INPUT], ['shim', SHIM]])('%s: writes the DaemonSet of deploy/daemonset.yaml', (_, input) => {
    expect(buildManifests(input).daemonSet).toEqual(daemonSetFile());
  });

  it('writes a NAD whose resourceName annotation names <prefix>/<resource>', () => {
    const { nad } = buildManifests(INPUT);
    expect(nad).toMatchObject({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'default', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/resourceName': RESOURCE } },
    });
    expect(typeof nad.spec.config).toBe('string');
  });

  it('guard: puts [kube-ovn-offload (guard), kube-ovn, portmap] in the NAD, as JSON', () => {
    expect(conflist()).toEqual({
      cniVersion: '0.3.1',
      name: 'kube-ovn',
      plugins: [
        { type: 'kube-ovn-offload', mode: 'guard', server_socket: SOCKET, capabilities: { deviceID: true, CNIDeviceInfoFile: true }, log_file: LOG },
        { type: 'kube-ovn', server_socket: SOCKET, provider: 'default.default.ovn' },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
  });

  it('shim: puts [kube-ovn-offload (shim, provider ovn), portmap] in a NAD of the Multus namespace, at 1.0.0', () => {
    const { nad } = buildManifests(SHIM);
    expect(nad.metadata).toEqual({ name: 'kube-ovn-offload', namespace: 'kube-system', annotations: { 'k8s.v1.cni.cncf.io/resourceName': RESOURCE } });
    expect(conflist(SHIM)).toEqual({
      cniVersion: '1.0.0',
      name: 'kube-ovn',
      plugins: [
        { type: 'kube-ovn-offload', mode: 'shim', server_socket: SOCKET, provider: 'ovn', log_file: LOG },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
  });

  // pkg/util/network_attachment.go IsOvnNetwork: some plugin of the list has "type": "kube-ovn".
  it('guard lists exactly one "type": "kube-ovn" entry, so kube-ovn-controller serves the NAD; shim lists none', () => {
    const kubeOvn = (input: ManifestInput) => conflist(input).plugins.filter((p: { type: string }) => p.type === 'kube-ovn');
    expect(kubeOvn(INPUT)).toHaveLength(1);
    expect(kubeOvn(guard({ vfDriver: 'vfio-pci', nad: { namespace: 'kube-system', name: 'offload' } }))).toHaveLength(1);
    expect(kubeOvn(SHIM)).toEqual([]);
  });

  it('--vf-driver: guard writes it equal into its entry and kube-ovn\'s, shim into its one entry; portmap never', () => {
    const g = conflist(guard({ vfDriver: 'vfio-pci' })).plugins;
    expect(g.map((p: Record<string, unknown>) => p.vf_driver)).toEqual(['vfio-pci', 'vfio-pci', undefined]);
    const sh = conflist(shim({ vfDriver: 'vfio-pci' })).plugins;
    expect(sh.map((p: Record<string, unknown>) => p.vf_driver)).toEqual(['vfio-pci', undefined]);
    expect(JSON.stringify(conflist())).not.toContain('vf_driver');
  });

  it.each([
    ['guard', INPUT, { mode: 'guard', provider: 'ovn', vfDriver: '' }],
    ['guard with --vf-driver', guard({ vfDriver: 'vfio-pci' }), { mode: 'guard', provider: 'ovn', vfDriver: 'vfio-pci' }],
    ['shim', SHIM, { mode: 'shim', provider: 'ovn', vfDriver: '' }],
    ['shim with --vf-driver', shim({ vfDriver: 'vfio-pci' }), { mode: 'shim', provider: 'ovn', vfDriver: 'vfio-pci' }],
  ])('%s: our entry, as libcni hands it over, passes the plugin\'s own config parser', (_, input, want) => {
    const list = conflist(input);
    const ours = list.plugins.find((p: { type: string }) => p.type === 'kube-ovn-offload');
    // libcni's buildOneConfig adds the list's name and cniVersion to each entry.
    const config = parseConfig({ ...ours, name: list.name, cniVersion: list.cniVersion }, {});
    expect(ours.mode).toBe(want.mode);
    expect(config).toMatchObject({ serverSocket: SOCKET, provider: want.provider, vfDriver: want.vfDriver, logFile: LOG });
  });

  it('with the defaults, writes the same NAD as conf/nad.yaml and the same Subnet as conf/subnet.yaml', () => {
    const nadFile = parse(repoText('conf/nad.yaml')) as Record<string, any>;
    const subnetFile = parse(repoText('conf/subnet.yaml')) as Record<string, any>;
    const { nad, subnet } = buildManifests(INPUT);
    expect({ ...nad, spec: { config: JSON.parse(nad.spec.config) } }).toEqual({ ...nadFile, spec: { config: JSON.parse(nadFile.spec.config) } });
    expect(subnet).toEqual(subnetFile);
  });

  it.each([
    [{ namespace: 'default', name: 'default' }, 'default.default.ovn'],
    [{ namespace: 'kube-system', name: 'offload' }, 'offload.kube-system.ovn'],
  ])('guard: the provider of kube-ovn\'s entry and of the Subnet defaults to <name>.<namespace>.ovn: %o → %s', (nad, provider) => {
    const input = guard({ nad });
    expect(conflist(input).plugins[1].provider).toBe(provider);
    expect(buildManifests(input).subnet!.spec.provider).toBe(provider);
  });

  it('guard: an explicit provider wins over the default, in kube-ovn\'s entry and the Subnet alike', () => {
    const input = guard({ provider: 'x.y.ovn' });
    expect(conflist(input).plugins[1].provider).toBe('x.y.ovn');
    expect(buildManifests(input).subnet!.spec.provider).toBe('x.y.ovn');
  });

  it('carries the cniVersion given', () => {
    expect(conflist(guard({ cniVersion: '1.1.0' })).cniVersion).toBe('1.1.0');
    expect(conflist(shim({ cniVersion: '1.1.0' })).cniVersion).toBe('1.1.0');
  });

  it('guard: writes a cluster-scoped Subnet named after the NAD, its gateway excluded, no namespaces', () => {
    expect(buildManifests(guard({ nad: { namespace: 'kube-system', name: 'offload' } })).subnet).toEqual({
      apiVersion: 'kubeovn.io/v1',
      kind: 'Subnet',
      metadata: { name: 'offload-kube-system' },
      spec: {
        protocol: 'IPv4',
        cidrBlock: '10.17.0.0/16',
        gateway: '10.17.0.1',
        excludeIps: ['10.17.0.1'],
        provider: 'offload.kube-system.ovn',
        natOutgoing: true,
      },
    });
  });

  it.each([
    ['fd00:10:17::/112', { protocol: 'IPv6', cidrBlock: 'fd00:10:17::/112', gateway: 'fd00:10:17::1', excludeIps: ['fd00:10:17::1'] }],
    ['10.17.0.0/16,fd00:10:17::/112', { protocol: 'Dual', cidrBlock: '10.17.0.0/16,fd00:10:17::/112', gateway: '10.17.0.1,fd00:10:17::1', excludeIps: ['10.17.0.1', 'fd00:10:17::1'] }],
  ])('guard: the Subnet\'s protocol and gateway follow the CIDR %s', (cidr, spec) => {
    expect(buildManifests(guard({ cidr })).subnet!.spec).toMatchObject(spec);
  });

  it('shim: writes no Subnet (its pods are on kube-ovn\'s default network)', () => {
    expect(buildManifests(SHIM).subnet).toBeUndefined();
  });

  it('guard: writes an example Pod in the NAD namespace that asks for one VF, as quantity strings', () => {
    const { pod } = buildManifests(guard({ nad: { namespace: 'kube-system', name: 'offload' } }));
    expect(pod).toMatchObject({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: 'kube-system', annotations: { 'v1.multus-cni.io/default-network': 'kube-system/offload' } },
    });
    expect(pod.spec.containers).toEqual([{
      name: 'app',
      image: 'docker.io/library/nginx:alpine',
      resources: { requests: { [RESOURCE]: '1' }, limits: { [RESOURCE]: '1' } },
    }]);
  });

  it('shim: writes an example Pod without a default-network annotation that asks for one VF', () => {
    const { pod } = buildManifests(SHIM);
    expect(pod.metadata).toEqual({ name: 'offload-example', namespace: 'default' });
    expect(pod.spec.containers[0]!.resources).toEqual({ requests: { [RESOURCE]: '1' }, limits: { [RESOURCE]: '1' } });
  });

  it('gives install.sh the offload settings and the uplink as IFACE', () => {
    expect(buildManifests(INPUT).installSh).toEqual([['HW_OFFLOAD', 'true'], ['ENABLE_LB', 'false'], ['ENABLE_MIRROR', 'false'], ['IFACE', 'enp66s0f0np0']]);
  });
});

/** The lines of a trailing comment block that follow `marker`, the "#" and indent removed. */
function commentAfter(text: string, marker: string): string[] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.includes(marker));
  expect(at, marker).toBeGreaterThanOrEqual(0);
  const block: string[] = [];
  for (const line of lines.slice(at + 1)) {
    const m = /^# {4}(.*)$/.exec(line); // "#     {": a quoted setting, four spaces in
    if (!m) break;
    block.push(m[1]!);
  }
  return block;
}

describe('renderYaml', () => {
  const text = renderYaml(buildManifests(INPUT));
  const shimText = renderYaml(buildManifests(SHIM));

  it.each([['guard', INPUT, 5], ['shim', SHIM, 4]])('%s: is one stream of %s documents, equal to the objects', (_, input, count) => {
    const docs = parseAllDocuments(renderYaml(buildManifests(input)));
    expect(docs.flatMap((d) => d.errors)).toEqual([]);
    expect(docs).toHaveLength(count);
    expect(docs.map((d) => d.toJS())).toEqual(objectsOf(buildManifests(input)));
  });

  it('puts a comment above each object saying what it is for', () => {
    const above = (t: string) => t.split('\n---\n').map((doc) => doc.replace(/^---\n/, '').split('\n')[0]);
    expect(above(text)).toEqual([
      expect.stringMatching(/^# SR-IOV device plugin config/),
      expect.stringMatching(/^# DaemonSet kube-system\/kube-ovn-offload: installs kube-ovn-offload/),
      expect.stringMatching(/^# NetworkAttachmentDefinition default\/default: the pod's default network/),
      expect.stringMatching(/^# Subnet default-default: the addresses of provider default\.default\.ovn/),
      expect.stringMatching(/^# Example Pod/),
    ]);
    expect(above(shimText)).toEqual([
      expect.stringMatching(/^# SR-IOV device plugin config/),
      expect.stringMatching(/^# DaemonSet kube-system\/kube-ovn-offload/),
      expect.stringMatching(/^# NetworkAttachmentDefinition kube-system\/kube-ovn-offload: Multus's clusterNetwork/),
      expect.stringMatching(/^# Example Pod/),
    ]);
  });

  it('guard: says why kube-ovn must stay in the NAD', () => {
    expect(text).toContain('# kube-ovn-offload (mode guard) checks');
    expect(text.replace(/\n# /g, ' ')).toContain('kube-ovn must stay in the list: kube-ovn-controller allocates addresses only for a NAD that has a "type": "kube-ovn" plugin (IsOvnNetwork).');
  });

  it('prints the DaemonSet as deploy/daemonset.yaml writes it, its comments included, under its own header', () => {
    const file = repoText('deploy/daemonset.yaml');
    const body = file.slice(file.indexOf('apiVersion:'));
    expect(text).toContain(`\n${body}---\n`);
    expect(text).toContain('#   kubectl -n kube-system exec ds/kube-ovn-offload -- kube-ovn-offload doctor\n');
    expect(text).not.toContain('test/unit/deploy.test.ts');
    expect(text).not.toContain('Not generated yet');
  });

  it('ends with the install.sh settings, as comments', () => {
    const tail = text.slice(text.lastIndexOf('limits:'));
    expect(tail).toContain('#   HW_OFFLOAD=true ENABLE_LB=false ENABLE_MIRROR=false IFACE=enp66s0f0np0\n');
    expect(shimText.slice(shimText.lastIndexOf('limits:'))).toContain('#   HW_OFFLOAD=true ENABLE_LB=false ENABLE_MIRROR=false IFACE=enp66s0f0np0\n');
  });

  it('shim: ends with the thick Multus setting, clusterNetwork and multusNamespace by name', () => {
    const thick = commentAfter(shimText, 'kube-system/multus-daemon-config');
    expect(JSON.parse(`{${thick.join('').replace(/,$/, '')}}`)).toEqual({ clusterNetwork: 'kube-ovn-offload', multusNamespace: 'kube-system' });
  });

  it('shim: ends with a complete thin Multus configuration pointing clusterNetwork at the NAD by name', () => {
    const thin = JSON.parse(commentAfter(shimText, 'instead of =auto:').join('\n'));
    expect(thin).toEqual({
      cniVersion: '1.0.0',
      name: 'multus-cni-network',
      type: 'multus',
      capabilities: { portMappings: true },
      kubeconfig: '/etc/cni/net.d/multus.d/multus.kubeconfig',
      multusNamespace: 'kube-system',
      clusterNetwork: 'kube-ovn-offload',
    });
    const other = renderYaml(buildManifests(shim({ nad: { namespace: 'multus', name: 'offload' }, multusNamespace: 'multus', cniVersion: '1.1.0' })));
    expect(JSON.parse(commentAfter(other, 'instead of =auto:').join('\n'))).toMatchObject({ cniVersion: '1.1.0', multusNamespace: 'multus', clusterNetwork: 'offload' });
  });

  it('shim: says that STATUS and GC need cniVersion 1.1.0', () => {
    expect(shimText.replace(/\n# /g, ' ')).toContain('cniVersion 1.0.0: STATUS and GC reach the plugin at 1.1.0 only');
  });

  it('writes config.json and spec.config as literal blocks and the quantities quoted, as the seed does', () => {
    expect(text).toContain('  config.json: |\n    {\n');
    expect(text).toContain('  config: |\n    {\n');
    expect(text).toContain(`          ${RESOURCE}: '1'\n`);
    expect(text).toContain('"vendors": ["15b3"]');
  });

  it('without a known uplink, leaves IFACE for the reader to fill', () => {
    expect(renderYaml(buildManifests(guard({ iface: undefined })))).toContain('IFACE=<the uplink that holds the node IP>');
  });

  it.each([['guard', INPUT], ['shim', SHIM]])('--json form, %s: the same objects, in the same order', (_, input) => {
    const m = buildManifests(input);
    expect(JSON.parse(renderJson(m))).toEqual(parseAllDocuments(renderYaml(m)).map((d) => d.toJS()));
  });
});

describe('wrap', () => {
  it('keeps every word, in order, on lines no longer than the width unless one word is longer', () => {
    fc.assert(fc.property(fc.array(fc.stringMatching(/^[a-z]{1,30}$/), { maxLength: 40 }), fc.integer({ min: 10, max: 100 }), (words, width) => {
      const lines = wrap([words.join(' ')], width);
      expect(lines.join(' ').split(' ').filter(Boolean)).toEqual(words);
      for (const l of lines) if (l.includes(' ')) expect(l.length).toBeLessThanOrEqual(width);
    }));
  });

  it('leaves a paragraph that starts with a space, and an empty one, as they are', () => {
    expect(wrap(['    "clusterNetwork": "kube-ovn-offload",', ''], 10)).toEqual(['    "clusterNetwork": "kube-ovn-offload",', '']);
  });
});

describe('prettyJson', () => {
  it('is JSON that parses back to the value', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      expect(JSON.parse(prettyJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
    }));
  });
});

// --- selectors from an inventory --------------------------------------------------------------

const vf = (index: number, over: Partial<VfInventory> = {}): VfInventory => ({
  pci: `0000:42:00.${index + 2}`, index, device: '0x1018', driver: 'mlx5_core', netdevs: [`enp66s0f0v${index}`], ...over,
});
const pf = (over: Partial<PfInventory> = {}): PfInventory => ({
  pci: '0000:42:00.0', device: '0x1017', family: 'ConnectX-5', netdevs: ['enp66s0f0np0', 'enp66s0f0r0'], uplink: 'enp66s0f0np0',
  numVfs: 2, totalVfs: 8, vfs: [vf(0), vf(1)], ...over,
});

describe('selectorsFromInventory', () => {
  it('takes vendor, device ids without 0x, drivers and the uplink from the VFs', () => {
    expect(selectorsFromInventory([pf()])).toMatchObject({
      ok: true,
      selectors: { vendors: ['15b3'], devices: ['1018'], drivers: ['mlx5_core'], pfNames: ['enp66s0f0np0'] },
      iface: 'enp66s0f0np0',
    });
  });

  it('unites the ids and drivers of several PFs, each once', () => {
    const cx6 = pf({ pci: '0000:43:00.0', device: '0x101d', family: 'ConnectX-6 Dx', uplink: 'enp67s0f0np0', netdevs: ['enp67s0f0np0'], vfs: [vf(0, { pci: '0000:43:00.2', device: '0x101e' }), vf(1, { pci: '0000:43:00.3', device: '0x101e', driver: 'vfio-pci' })] });
    expect(selectorsFromInventory([pf(), cx6])).toMatchObject({
      ok: true,
      selectors: { devices: ['1018', '101e'], drivers: ['mlx5_core', 'vfio-pci'], pfNames: ['enp66s0f0np0', 'enp67s0f0np0'] },
    });
  });

  it('--pf picks one PF by netdev or PCI address', () => {
    const other = pf({ pci: '0000:43:00.0', uplink: 'enp67s0f0np0', netdevs: ['enp67s0f0np0'] });
    for (const name of ['enp67s0f0np0', '0000:43:00.0']) {
      expect(selectorsFromInventory([pf(), other], name)).toMatchObject({ ok: true, selectors: { pfNames: ['enp67s0f0np0'] }, iface: 'enp67s0f0np0' });
    }
  });

  it('names a PF in legacy mode by its only netdev', () => {
    expect(selectorsFromInventory([pf({ uplink: undefined, netdevs: ['enp66s0f0'] })])).toMatchObject({ ok: true, selectors: { pfNames: ['enp66s0f0'] } });
  });

  it('leaves pfNames out when a PF has no name to give, rather than leave its VFs out', () => {
    const found = selectorsFromInventory([pf({ uplink: undefined, netdevs: [] })]);
    expect(found.ok && found.selectors.pfNames).toBe(undefined);
  });

  it('leaves out unbound VFs and PFs of families that do no ASAP²', () => {
    const cx4 = pf({ pci: '0000:44:00.0', device: '0x1015', family: undefined, uplink: 'enp68s0f0np0', vfs: [vf(0, { device: '0x1016' })] });
    expect(selectorsFromInventory([pf({ vfs: [vf(0), vf(1, { driver: '' })] }), cx4])).toMatchObject({
      ok: true, selectors: { devices: ['1018'], drivers: ['mlx5_core'], pfNames: ['enp66s0f0np0'] },
    });
  });

  it('no VFs: says so and gives the setup command to run first', () => {
    const found = selectorsFromInventory([pf({ vfs: [], numVfs: 0 })]);
    expect(found).toMatchObject({ ok: false, message: expect.stringContaining('no Mellanox VF on this node') });
    expect(found.ok || found.fix[0]).toBe('create them first: kube-ovn-offload setup --pf enp66s0f0np0 --vfs 8');
    expect(found.ok || found.fix[1]).toContain('--vendor-device 15b3:1018 --driver mlx5_core');
  });

  it('VFs without a driver: says they are unbound', () => {
    expect(selectorsFromInventory([pf({ vfs: [vf(0, { driver: '' })] })])).toMatchObject({ ok: false, message: expect.stringContaining('are unbound') });
  });

  it('no Mellanox PF, or none named so: says what there is', () => {
    expect(selectorsFromInventory([])).toMatchObject({ ok: false, message: 'no Mellanox PF on this node' });
    expect(selectorsFromInventory([pf()], 'eth9')).toMatchObject({ ok: false, message: expect.stringContaining('0000:42:00.0 (ConnectX-5, enp66s0f0np0)') });
  });
});

// --- against the API schemas ----------------------------------------------------------------

const clone = <T>(x: T): T => structuredClone(x);

describe('the Kubernetes API schema (kubernetes-models)', () => {
  const m = buildManifests(INPUT);

  it.each([['guard', INPUT], ['shim', SHIM]])('%s: accepts the ConfigMap, the DaemonSet and the Pod', (_, input) => {
    const built = buildManifests(input);
    expect(invalid(() => new ConfigMap(built.configMap).validate())).toBeUndefined();
    expect(invalid(() => new DaemonSet(built.daemonSet as any).validate())).toBeUndefined();
    expect(invalid(() => new Pod(built.pod).validate())).toBeUndefined();
  });

  it.each([
    ['a limit that is no quantity', (p: any) => { p.spec.containers[0].resources.limits[RESOURCE] = 'one'; }, 'must match format "quantity"'],
    ['a limit that is a boolean', (p: any) => { p.spec.containers[0].resources.limits[RESOURCE] = true; }, 'must be string'],
    ['a container without its required name', (p: any) => { delete p.spec.containers[0].name; }, "must have required property name"],
    ['an annotation that is not a string', (p: any) => { p.metadata.annotations['v1.multus-cni.io/default-network'] = 1; }, 'must be string'],
  ])('refuses a Pod with %s', (_, spoil, message) => {
    const pod = clone(m.pod);
    spoil(pod);
    expect(invalid(() => new Pod(pod).validate())).toContain(message);
  });

  // Kubernetes' resource.Quantity is int-or-string: the API server takes `1` as well as '1', and
  // so does the schema. The quoted form the seed uses is pinned by the builder tests above.
  it('takes a bare number as a quantity, as the API server does', () => {
    const pod = clone(m.pod);
    (pod.spec.containers[0]!.resources.limits as Record<string, unknown>)[RESOURCE] = 1;
    expect(invalid(() => new Pod(pod).validate())).toBeUndefined();
  });

  it('refuses a ConfigMap whose config.json is an object, not a string', () => {
    const cm = clone(m.configMap) as any;
    cm.data['config.json'] = JSON.parse(cm.data['config.json']);
    expect(invalid(() => new ConfigMap(cm).validate())).toContain('must be string');
  });
});

/**
 * The NetworkAttachmentDefinition CRD, as k8snetworkplumbingwg/network-attachment-definition-client
 * ships it in artifacts/networks-crd.yaml (commit 6fd0897fba5313b98cf5f556376813b843518632),
 * descriptions shortened: spec.config is a string and is required, and spec is required.
 */
const NAD_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: network-attachment-definitions.k8s.cni.cncf.io
spec:
  group: k8s.cni.cncf.io
  scope: Namespaced
  names:
    plural: network-attachment-definitions
    singular: network-attachment-definition
    kind: NetworkAttachmentDefinition
    shortNames:
    - net-attach-def
  versions:
  - name: v1
    schema:
      openAPIV3Schema:
        properties:
          apiVersion:
            description: APIVersion defines the versioned schema of this representation of an object.
            type: string
          kind:
            description: Kind is a string value representing the REST resource this object represents.
            type: string
          metadata:
            type: object
          spec:
            properties:
              config:
                type: string
            required:
            - config
            type: object
          status:
            properties:
              state:
                type: string
              observation:
                type: string
            type: object
        required:
        - spec
        type: object
    served: true
    storage: true
`;

describe('the NetworkAttachmentDefinition CRD schema (ajv)', () => {
  const crd = parse(NAD_CRD) as Record<string, any>;
  const validate = new Ajv({ allErrors: true }).compile(crd.spec.versions[0].schema.openAPIV3Schema);
  const errors = (nad: unknown) => (validate(nad) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
  const { nad } = buildManifests(INPUT);

  it('the CRD transcribed here is a valid CustomResourceDefinition (kubernetes-models)', () => {
    expect(invalid(() => new CustomResourceDefinition(crd as any).validate())).toBeUndefined();
  });

  it.each([['guard', INPUT], ['shim', SHIM]])('accepts the %s NAD', (_, input) => {
    expect(errors(buildManifests(input).nad)).toEqual([]);
  });

  it.each([
    ['spec.config as an object, not a JSON string', (n: any) => { n.spec.config = JSON.parse(n.spec.config); }, '/spec/config must be string'],
    ['no spec.config', (n: any) => { delete n.spec.config; }, "/spec must have required property 'config'"],
    ['no spec', (n: any) => { delete n.spec; }, " must have required property 'spec'"],
  ])('refuses a NAD with %s', (_, spoil, error) => {
    const bad = clone(nad);
    spoil(bad);
    expect(errors(bad)).toContain(error);
  });

  it('keeps the metadata valid ObjectMeta (checked through a Pod, which shares its schema)', () => {
    expect(invalid(() => new Pod({ metadata: nad.metadata, spec: { containers: [{ name: 'a', image: 'b' }] } }).validate())).toBeUndefined();
  });
});

/** The paths of keys the schema does not define where it lists an object's properties: the API server would prune them. */
function unknownFields(schema: Record<string, any>, value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => (schema.items ? unknownFields(schema.items, v, `${path}/${i}`) : []));
  if (value === null || typeof value !== 'object' || !schema.properties) return [];
  return Object.entries(value).flatMap(([k, v]) => (schema.properties[k] ? unknownFields(schema.properties[k], v, `${path}/${k}`) : [`${path}/${k}`]));
}

describe('kube-ovn\'s Subnet CRD schema (ajv, test/fixtures/kube-ovn/subnet-crd.yaml from kube-ovn 1533681d)', () => {
  const schema = parse(readFileSync(new URL('../../fixtures/kube-ovn/subnet-crd.yaml', import.meta.url), 'utf8')) as Record<string, any>;
  // The API server's own vocabulary: x-kubernetes-* markers constrain merges, not values; the
  // formats are the OpenAPI ones the CRD uses.
  const ajv = new Ajv({ allErrors: true });
  for (const keyword of ['x-kubernetes-list-type', 'x-kubernetes-map-type']) ajv.addKeyword(keyword);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
  const validate = ajv.compile(schema);
  const errors = (subnet: unknown) => (validate(subnet) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));

  it('is the Subnet schema: cidrBlock, provider, excludeIps and namespaces are where the builder writes them', () => {
    expect(schema.properties.spec.properties).toMatchObject({
      cidrBlock: { type: 'string' },
      provider: { type: 'string' },
      excludeIps: { type: 'array', items: { type: 'string' } },
      namespaces: { type: 'array' },
    });
  });

  it.each([
    ['IPv4', '10.17.0.0/16'],
    ['IPv6', 'fd00:10:17::/112'],
    ['Dual', '10.17.0.0/16,fd00:10:17::/112'],
  ])('accepts the %s Subnet, and it has no field the CRD lacks', (_, cidr) => {
    const { subnet } = buildManifests(guard({ cidr }));
    expect(errors(subnet)).toEqual([]);
    expect(unknownFields(schema, subnet)).toEqual([]);
  });

  it.each([
    ['a cidrBlock that is a list', (s: any) => { s.spec.cidrBlock = [s.spec.cidrBlock]; }, '/spec/cidrBlock must be string'],
    ['excludeIps that is a string', (s: any) => { s.spec.excludeIps = s.spec.excludeIps[0]; }, '/spec/excludeIps must be array'],
    ['natOutgoing that is a string', (s: any) => { s.spec.natOutgoing = 'true'; }, '/spec/natOutgoing must be boolean'],
    ['an mtu that is no int32', (s: any) => { s.spec.mtu = 2 ** 40; }, '/spec/mtu must match format "int32"'],
  ])('refuses a Subnet with %s', (_, spoil, error) => {
    const bad = structuredClone(buildManifests(INPUT).subnet!);
    spoil(bad);
    expect(errors(bad)).toContain(error);
  });

  it('finds a field the CRD does not define, such as a misspelt cidrBlock', () => {
    const bad = structuredClone(buildManifests(INPUT).subnet!) as any;
    bad.spec.cidr = bad.spec.cidrBlock;
    expect(unknownFields(schema, bad)).toEqual(['/spec/cidr']);
  });

  it('keeps the metadata valid ObjectMeta (checked through a Pod, which shares its schema)', () => {
    const { subnet } = buildManifests(INPUT);
    expect(invalid(() => new Pod({ metadata: subnet!.metadata, spec: { containers: [{ name: 'a', image: 'b' }] } }).validate())).toBeUndefined();
  });
});
