/**
 * The manifests builder, pure: the objects for a fixed input, the selectors from an inventory,
 * the YAML stream, and the objects checked against the Kubernetes API schemas (kubernetes-models)
 * and the NetworkAttachmentDefinition CRD's own OpenAPI schema (ajv).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { ConfigMap, Pod } from 'kubernetes-models/v1';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import {
  buildManifests,
  prettyJson,
  renderJson,
  renderYaml,
  selectorsFromInventory,
  type ManifestInput,
} from '../../src/cli/manifests.js';
import type { PfInventory, VfInventory } from '../../src/node/inventory.js';
import { invalid } from '../support/k8s.js';

const INPUT: ManifestInput = {
  resource: 'cx5_sriov_switchdev',
  prefix: 'mellanox.com',
  nad: { namespace: 'default', name: 'default' },
  cniVersion: '0.3.1',
  image: 'docker.io/library/nginx:alpine',
  iface: 'enp66s0f0np0',
  selectors: { vendors: ['15b3'], devices: ['1018'], drivers: ['mlx5_core'], pfNames: ['enp66s0f0np0'] },
};
const RESOURCE = 'mellanox.com/cx5_sriov_switchdev';

/** The conflist inside a NAD, parsed. */
const conflist = (input: ManifestInput = INPUT) => JSON.parse(buildManifests(input).nad.spec.config) as Record<string, any>;

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

  it('writes a NAD whose resourceName annotation names <prefix>/<resource>', () => {
    const { nad } = buildManifests(INPUT);
    expect(nad).toMatchObject({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'default', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/resourceName': RESOURCE } },
    });
    expect(typeof nad.spec.config).toBe('string');
  });

  it('puts a conflist in the NAD that parses as JSON, with kube-ovn-offload first and portmap after', () => {
    expect(conflist()).toEqual({
      cniVersion: '0.3.1',
      name: 'kube-ovn',
      plugins: [
        { type: 'kube-ovn-offload', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', provider: 'default.default.ovn', log_file: '/var/log/kube-ovn/kube-ovn-offload.log' },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
  });

  it('with the defaults, writes the same NAD as conf/nad.yaml', () => {
    const file = parse(readFileSync(new URL('../../conf/nad.yaml', import.meta.url), 'utf8')) as Record<string, any>;
    const { nad } = buildManifests(INPUT);
    expect({ ...nad, spec: { config: JSON.parse(nad.spec.config) } }).toEqual({ ...file, spec: { config: JSON.parse(file.spec.config) } });
  });

  it.each([
    [{ namespace: 'default', name: 'default' }, 'default.default.ovn'],
    [{ namespace: 'kube-system', name: 'offload' }, 'offload.kube-system.ovn'],
  ])('the provider defaults to <name>.<namespace>.ovn: %o → %s', (nad, provider) => {
    expect(conflist({ ...INPUT, nad }).plugins[0].provider).toBe(provider);
  });

  it('an explicit provider wins over the default', () => {
    expect(conflist({ ...INPUT, provider: 'x.y.ovn' }).plugins[0].provider).toBe('x.y.ovn');
  });

  it('carries the cniVersion given', () => {
    expect(conflist({ ...INPUT, cniVersion: '1.1.0' }).cniVersion).toBe('1.1.0');
  });

  it('writes an example Pod in the NAD namespace that asks for one VF, as quantity strings', () => {
    const { pod } = buildManifests({ ...INPUT, nad: { namespace: 'kube-system', name: 'offload' } });
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

  it('gives install.sh the offload settings and the uplink as IFACE', () => {
    expect(buildManifests(INPUT).installSh).toEqual([['HW_OFFLOAD', 'true'], ['ENABLE_LB', 'false'], ['ENABLE_MIRROR', 'false'], ['IFACE', 'enp66s0f0np0']]);
  });
});

describe('renderYaml', () => {
  const text = renderYaml(buildManifests(INPUT));

  it('is one stream of three documents, equal to the objects', () => {
    const docs = parseAllDocuments(text);
    expect(docs.map((d) => d.errors)).toEqual([[], [], []]);
    const m = buildManifests(INPUT);
    expect(docs.map((d) => d.toJS())).toEqual([m.configMap, m.nad, m.pod]);
  });

  it('puts a comment above each object saying what it is for', () => {
    const above = text.split('\n---\n').map((doc) => doc.replace(/^---\n/, '').split('\n')[0]);
    expect(above).toEqual([
      expect.stringMatching(/^# SR-IOV device plugin config/),
      expect.stringMatching(/^# NetworkAttachmentDefinition default\/default/),
      expect.stringMatching(/^# Example Pod/),
    ]);
  });

  it('ends with the install.sh settings and says the DaemonSet is not generated yet, as comments', () => {
    const tail = text.slice(text.lastIndexOf('limits:'));
    expect(tail).toContain('#   HW_OFFLOAD=true ENABLE_LB=false ENABLE_MIRROR=false IFACE=enp66s0f0np0\n');
    expect(tail).toMatch(/^# Not generated yet: the DaemonSet that installs kube-ovn-offload/m);
  });

  it('writes config.json and spec.config as literal blocks and the quantities quoted, as the seed does', () => {
    expect(text).toContain('  config.json: |\n    {\n');
    expect(text).toContain('  config: |\n    {\n');
    expect(text).toContain(`          ${RESOURCE}: '1'\n`);
    expect(text).toContain('"vendors": ["15b3"]');
  });

  it('without a known uplink, leaves IFACE for the reader to fill', () => {
    expect(renderYaml(buildManifests({ ...INPUT, iface: undefined }))).toContain('IFACE=<the uplink that holds the node IP>');
  });

  it('--json form: the same three objects', () => {
    const m = buildManifests(INPUT);
    expect(JSON.parse(renderJson(m))).toEqual([m.configMap, m.nad, m.pod]);
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

  it('accepts the ConfigMap and the Pod', () => {
    expect(invalid(() => new ConfigMap(m.configMap).validate())).toBeUndefined();
    expect(invalid(() => new Pod(m.pod).validate())).toBeUndefined();
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

  it('accepts the NAD', () => {
    expect(errors(nad)).toEqual([]);
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
