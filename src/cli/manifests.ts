/**
 * `kube-ovn-offload manifests`: the YAML the seed document has an operator write by hand, for
 * either topology of docs/topologies.md, with the device plugin's selectors taken from this node's VFs
 * instead of copied from a web page: the SR-IOV device plugin's ConfigMap, the DaemonSet that
 * installs kube-ovn-offload, the NetworkAttachmentDefinition (for guard, with the kube-ovn Subnet
 * it needs), an example Pod, and as comments what to set in kube-ovn's install.sh (and, for
 * shim, in Multus).
 */
import { ENGLISH } from '../cni/english.js';
import { Document, parse } from 'yaml';
import * as z from 'zod/mini';
import DAEMONSET_YAML from '../../deploy/daemonset.yaml';
import { CniError } from '../cni/errors.js';
import { SUPPORTED_VERSIONS } from '../cni/version.js';
import { mellanoxPfs, pickPf, MELLANOX, type PfInventory, type VfInventory } from '../node/inventory.js';
import { isPciAddress } from '../node/pci.js';
import { isNetdevName } from '../node/port-name.js';
import { subnetAddressing } from './cidr.js';
import { hostFromEnv, parseFlags, UsageError, type CliIo, type Command } from './host.js';

// --- what the manifests are made from -----------------------------------------------------

// "kube-system"; never "Kube_System" (a namespace is a DNS-1123 label).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// "mellanox.com", "default"; never "Mellanox.com" or "a..b" (DNS-1123 subdomain).
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// "cx5_sriov_switchdev": the device plugin allows ^[a-zA-Z0-9_]+$, and Kubernetes wants the
// name part of "<prefix>/<name>" to start and end with an alphanumeric.
const RESOURCE_NAME = /^[A-Za-z0-9]([A-Za-z0-9_]*[A-Za-z0-9])?$/;
// "1018", "15b3": a PCI id as the device plugin's selectors take it (no "0x").
const PCI_ID = /^[0-9a-f]{4}$/;
// "mlx5_core", "vfio-pci": a kernel driver name.
const DRIVER = /^[A-Za-z0-9_.-]+$/;
// "default.default.ovn", "ovn": kube-ovn turns the provider into OVN names and annotation keys.
const PROVIDER = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;

const Netdev = z.string().check(z.refine(isNetdevName, 'is not a network device name'));
const Namespace = z.string().check(z.maxLength(63), z.regex(DNS_LABEL, 'the namespace must be a DNS-1123 label, e.g. kube-system'));

/** The SR-IOV device plugin's netDevice selectors (sriov-network-device-plugin README). */
export const Selectors = z.object({
  vendors: z.array(z.string().check(z.regex(PCI_ID, 'must be 4 hex digits, e.g. 15b3'))).check(z.minLength(1)),
  devices: z.array(z.string().check(z.regex(PCI_ID, 'must be 4 hex digits, e.g. 1018'))).check(z.minLength(1)),
  drivers: z.array(z.string().check(z.regex(DRIVER, 'is not a driver name'))).check(z.minLength(1)),
  /** The PFs' netdevs (the uplink in switchdev): only VFs of these PFs. */
  pfNames: z.optional(z.array(Netdev).check(z.minLength(1))),
  /** The PFs' PCI addresses, when a PF was named by address and the node was not read. */
  rootDevices: z.optional(z.array(z.string().check(z.refine(isPciAddress, 'is not a PCI address'))).check(z.minLength(1))),
});
export type Selectors = z.infer<typeof Selectors>;

/** docs/topologies.md: guard checks and lets kube-ovn's own plugin forward; shim forwards itself. */
export const TOPOLOGIES = ['guard', 'shim'] as const;
export const Topology = z.enum(TOPOLOGIES, 'must be guard or shim');
export type Topology = z.infer<typeof Topology>;

/** The flags both topologies take. */
const common = {
  resource: z.string().check(z.maxLength(63), z.regex(RESOURCE_NAME, 'must be letters, digits and "_", e.g. cx5_sriov_switchdev')),
  prefix: z.string().check(z.maxLength(253), z.regex(DNS_SUBDOMAIN, 'must be a DNS domain, e.g. mellanox.com')),
  cniVersion: z.enum(SUPPORTED_VERSIONS, `must be one of ${SUPPORTED_VERSIONS.join(', ')}`),
  image: z.string().check(z.regex(/^\S+$/, 'must be an image reference, e.g. docker.io/library/nginx:alpine')),
  /** install.sh's IFACE: the uplink that holds the node's IP. */
  iface: z.optional(Netdev),
  /** kube-ovn's vf_driver (its daemon tests only for "vfio-pci"): in every entry that reads it. */
  vfDriver: z.optional(z.string().check(z.regex(DRIVER, 'is not a driver name, e.g. vfio-pci'))),
};

const GuardOptions = z.object({
  topology: z.literal('guard'),
  ...common,
  nad: z.object({
    namespace: Namespace,
    // No dots: kube-ovn takes "<name>.<ns>.ovn" apart at its dots (IsOvnProvider wants three fields).
    name: z.string().check(z.maxLength(63), z.regex(DNS_LABEL, 'the name must be a DNS-1123 label, e.g. default: kube-ovn splits the provider NAME.NS.ovn at its dots')),
  }),
  /** kube-ovn's provider; default "<name>.<namespace>.ovn", the only one kube-ovn-controller allocates for this NAD. */
  provider: z.optional(z.string().check(z.maxLength(253), z.regex(PROVIDER, 'must be letters, digits, ".", "_" and "-", e.g. default.default.ovn'))),
  /** The Subnet's cidrBlock: one CIDR, or an IPv4 and an IPv6 one joined by a comma. */
  cidr: z.string().check(z.superRefine((cidr, ctx) => {
    const addressing = subnetAddressing(cidr);
    if (!addressing.ok) ctx.addIssue({ code: 'custom', message: addressing.message, input: cidr });
  })),
});

const ShimOptions = z.object({
  topology: z.literal('shim'),
  ...common,
  nad: z.object({
    namespace: Namespace,
    name: z.string().check(z.maxLength(253), z.regex(DNS_SUBDOMAIN, 'the name must be a DNS-1123 subdomain, e.g. kube-ovn-offload')),
  }),
  /** Multus's multusNamespace, where it looks clusterNetwork up by name. */
  multusNamespace: Namespace,
}).check(z.superRefine((o, ctx) => {
  // Multus finds a clusterNetwork NAD by name in multusNamespace only (docs/upstream.md#multus-k8sclient).
  if (o.nad.namespace !== o.multusNamespace) {
    ctx.addIssue({
      code: 'custom',
      path: ['nad'],
      input: o.nad,
      message: `the shim NAD must be in Multus's namespace ${o.multusNamespace} (--multus-namespace), where Multus looks its clusterNetwork up by name`,
    });
  }
}));

/** What the flags say; checked before the node is read, so a typo is exit 2 whatever the node has. */
export const ManifestOptions = z.discriminatedUnion('topology', [GuardOptions, ShimOptions]);
export type ManifestOptions = z.infer<typeof ManifestOptions>;

const fromNode = {
  selectors: Selectors,
  /** Where the selectors came from, one line for the reader of the YAML. */
  source: z.optional(z.string()),
};
/** Everything the manifests depend on: the options, and the selectors from the node or the flags. */
export const ManifestInput = z.discriminatedUnion('topology', [z.safeExtend(GuardOptions, fromNode), z.safeExtend(ShimOptions, fromNode)]);
export type ManifestInput = z.infer<typeof ManifestInput>;

export const DEFAULTS = {
  topology: 'guard',
  prefix: 'mellanox.com',
  /** guard: the seed's NAD, the pod's default network. */
  nad: 'default/default',
  /** shim: the NAD's name in the Multus namespace. */
  shimNadName: 'kube-ovn-offload',
  multusNamespace: 'kube-system',
  // guard: the seed's 0.3.1. shim: 1.0.0, which Multus and portmap have long taken; STATUS and
  // GC would need 1.1.0 (libcni sends them at 1.1.0 only), hence the NAD's comment.
  cniVersion: { guard: '0.3.1', shim: '1.0.0' },
  // Overlaps neither kube-ovn's ovn-default (10.16.0.0/16) nor its join subnet (100.64.0.0/16).
  cidr: '10.17.0.0/16',
  image: 'docker.io/library/nginx:alpine',
  driver: 'mlx5_core',
  serverSocket: '/run/openvswitch/kube-ovn-daemon.sock',
  logFile: '/var/log/kube-ovn/kube-ovn-offload.log',
} as const;

/** kube-ovn's default network's provider (util.OvnProvider): what the shim forwards as. */
const OVN_PROVIDER = 'ovn';

// --- the objects ----------------------------------------------------------------------------

const Meta = z.object({
  name: z.string(),
  namespace: z.optional(z.string()),
  annotations: z.optional(z.record(z.string(), z.string())),
});
const Quantities = z.record(z.string(), z.string());

export const ConfigMap = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('ConfigMap'),
  metadata: Meta,
  data: z.record(z.string(), z.string()),
});
export type ConfigMap = z.infer<typeof ConfigMap>;

export const NetworkAttachmentDefinition = z.object({
  apiVersion: z.literal('k8s.cni.cncf.io/v1'),
  kind: z.literal('NetworkAttachmentDefinition'),
  metadata: Meta,
  spec: z.object({ config: z.string() }),
});
export type NetworkAttachmentDefinition = z.infer<typeof NetworkAttachmentDefinition>;

/** kube-ovn's Subnet (kubeovn.io/v1, cluster-scoped): the fields written here. */
export const Subnet = z.object({
  apiVersion: z.literal('kubeovn.io/v1'),
  kind: z.literal('Subnet'),
  metadata: z.object({ name: z.string() }),
  spec: z.object({
    protocol: z.enum(['IPv4', 'IPv6', 'Dual']),
    cidrBlock: z.string(),
    gateway: z.string(),
    excludeIps: z.array(z.string()),
    provider: z.string(),
    natOutgoing: z.boolean(),
  }),
});
export type Subnet = z.infer<typeof Subnet>;

/** deploy/daemonset.yaml, checked only as far as the CLI relies on it; the tests check the rest. */
export const DaemonSet = z.looseObject({
  apiVersion: z.literal('apps/v1'),
  kind: z.literal('DaemonSet'),
  metadata: z.looseObject({ name: z.string(), namespace: z.string() }),
});
export type DaemonSet = z.infer<typeof DaemonSet>;

export const Pod = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('Pod'),
  metadata: Meta,
  spec: z.object({
    containers: z.array(z.object({
      name: z.string(),
      image: z.string(),
      resources: z.object({ requests: Quantities, limits: Quantities }),
    })),
  }),
});
export type Pod = z.infer<typeof Pod>;

export type K8sObject = ConfigMap | DaemonSet | NetworkAttachmentDefinition | Subnet | Pod;

export interface Manifests {
  configMap: ConfigMap;
  daemonSet: DaemonSet;
  nad: NetworkAttachmentDefinition;
  /** guard only: the Subnet of the NAD's provider. */
  subnet?: Subnet;
  pod: Pod;
  /** kube-ovn's install.sh variables for offload, in the seed's order of importance. */
  installSh: Array<[string, string]>;
  input: ManifestInput;
}

/** The objects in the order kubectl applies them: node software first, then network, then the pod. */
export function objectsOf(m: Manifests): K8sObject[] {
  return [m.configMap, m.daemonSet, m.nad, ...(m.subnet ? [m.subnet] : []), m.pod];
}

/**
 * JSON as a person reads it inside YAML, and as the seed writes it: two-space indent, a short
 * list or object of plain values on one line (`"vendors": ["15b3"]`), final newline (a "|" block).
 */
export function prettyJson(value: unknown): string {
  return `${jsonText(value, '')}\n`;
}

function jsonText(value: unknown, indent: string): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const inner = `${indent}  `;
  const entries: Array<[string | undefined, unknown]> = Array.isArray(value)
    ? value.map((v) => [undefined, v])
    : Object.entries(value).filter(([, v]) => v !== undefined);
  const parts = entries.map(([k, v]) => `${k === undefined ? '' : `${JSON.stringify(k)}: `}${jsonText(v, inner)}`);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  if (!parts.length) return `${open}${close}`;
  const flat = Array.isArray(value) ? `[${parts.join(', ')}]` : `{ ${parts.join(', ')} }`;
  if (entries.every(([, v]) => v === null || typeof v !== 'object') && flat.length <= 60) return flat;
  return `${open}\n${parts.map((p) => inner + p).join(',\n')}\n${indent}${close}`;
}

// "# Installs kube-ovn-offload into /opt/cni/bin …\n# (ds/ picks one pod; …)\n": the comment atop
// deploy/daemonset.yaml, written for whoever edits the file; manifests puts its own there.
const HEADER_COMMENT = /^(?:#.*\n)+/;

/** The installer, as deploy/daemonset.yaml has it (carried in the bundle). */
export function installerDaemonSet(): DaemonSet {
  return DaemonSet.parse(parse(DAEMONSET_YAML));
}

/**
 * The plugin entries of a conflist. The plugin reads them with its own schema (src/cni/config.ts),
 * against which the tests parse each one; undefined keys are left out of the JSON.
 */
function conflistOf(input: ManifestInput): { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> } {
  const base = { type: 'kube-ovn-offload', mode: input.topology, server_socket: DEFAULTS.serverSocket };
  const portmap = { type: 'portmap', capabilities: { portMappings: true } };
  // libcni hands each plugin its own entry only, so vf_driver goes into each one that reads it (docs/topologies.md#guard).
  const vf_driver = input.vfDriver;
  // A secondary network: Multus passes the VF and its device-info file only to entries that
  // declare them, and the plugin adds the PF and the representor for the pod's network-status.
  const capabilities = { deviceID: true, CNIDeviceInfoFile: true };
  const plugins = input.topology === 'guard'
    ? [
      { ...base, capabilities, log_file: DEFAULTS.logFile, vf_driver },
      { type: 'kube-ovn', server_socket: DEFAULTS.serverSocket, provider: guardProvider(input), vf_driver },
      portmap,
    ]
    : [{ ...base, provider: OVN_PROVIDER, log_file: DEFAULTS.logFile, vf_driver }, portmap];
  // "kube-ovn": the name kube-ovn's own conflist has.
  return { cniVersion: input.cniVersion, name: 'kube-ovn', plugins };
}

const guardProvider = (input: Extract<ManifestInput, { topology: 'guard' }>) => input.provider ?? `${input.nad.name}.${input.nad.namespace}.ovn`;

/** Cluster-scoped, so named after both halves of the NAD's reference; both are DNS-1123 labels. */
const subnetName = (nad: { namespace: string; name: string }) => `${nad.name}-${nad.namespace}`;

/** The manifests for one resource and one NAD. Pure: same input, same objects. */
export function buildManifests(input: ManifestInput): Manifests {
  const { namespace, name } = input.nad;
  const resourceName = `${input.prefix}/${input.resource}`;

  const configMap: ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    // The names the device plugin's DaemonSet mounts (deployments/sriovdp-daemonset.yaml).
    metadata: { name: 'sriovdp-config', namespace: 'kube-system' },
    data: {
      'config.json': prettyJson({
        resourceList: [{ resourcePrefix: input.prefix, resourceName: input.resource, selectors: input.selectors }],
      }),
    },
  };

  const nad: NetworkAttachmentDefinition = {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    // The annotation is what makes Multus pass the allocated VF to the plugins as deviceID.
    metadata: { name, namespace, annotations: { 'k8s.v1.cni.cncf.io/resourceName': resourceName } },
    spec: { config: prettyJson(conflistOf(input)) },
  };

  let subnet: Subnet | undefined;
  if (input.topology === 'guard') {
    const addressing = subnetAddressing(input.cidr);
    // ManifestInput refuses such a CIDR before it gets here.
    if (!addressing.ok) throw new Error(`--cidr ${input.cidr}: ${addressing.message}`);
    const { cidrBlock, protocol, gateway, excludeIps } = addressing.value;
    subnet = {
      apiVersion: 'kubeovn.io/v1',
      kind: 'Subnet',
      metadata: { name: subnetName(input.nad) },
      // No namespaces: kube-ovn binds the namespaces listed to a Subnet whatever its provider.
      // natOutgoing as ovn-default has it: this is the pods' default network, their way out.
      spec: { protocol, cidrBlock, gateway, excludeIps, provider: guardProvider(input), natOutgoing: true },
    };
  }

  // guard: the NAD is the pod's default network by annotation, and Multus with namespaceIsolation
  // refuses a NAD of another namespace, so the Pod is in the NAD's. shim: no annotation, so that
  // kube-ovn-controller gives it the ordinary ovn network; any namespace will do.
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: input.topology === 'guard'
      ? { name: 'offload-example', namespace, annotations: { 'v1.multus-cni.io/default-network': `${namespace}/${name}` } }
      : { name: 'offload-example', namespace: 'default' },
    spec: {
      containers: [{
        name: 'app',
        image: input.image,
        // A quantity string, as the seed writes it: '1', not 1.
        resources: { requests: { [resourceName]: '1' }, limits: { [resourceName]: '1' } },
      }],
    },
  };

  const installSh: Array<[string, string]> = [
    ['HW_OFFLOAD', 'true'],
    ['ENABLE_LB', 'false'],
    ['ENABLE_MIRROR', 'false'],
    ['IFACE', input.iface ?? ''],
  ];
  return { configMap, daemonSet: installerDaemonSet(), nad, subnet, pod, installSh, input };
}

/**
 * Comment paragraphs as lines of at most `width` characters, so that the YAML reads in a
 * terminal; a paragraph that starts with a space (a setting, a JSON line) is kept as it is.
 */
export function wrap(paragraphs: string[], width = 94): string[] {
  return paragraphs.flatMap((p) => {
    if (p === '' || p.startsWith(' ')) return [p];
    const lines: string[] = [];
    let line = '';
    for (const word of p.split(' ')) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    return [...lines, line];
  });
}

interface Comments {
  configMap: string[];
  daemonSet: string[];
  nad: string[];
  subnet: string[];
  pod: string[];
  trailer: string[];
}

/** What the reader of the YAML is told above each object and at the end, as paragraphs. */
function commentsOf(m: Manifests): Comments {
  const { input } = m;
  const nadRef = `${input.nad.namespace}/${input.nad.name}`;
  const resourceName = `${input.prefix}/${input.resource}`;
  const iface = input.iface ?? '<the uplink that holds the node IP>';
  const ds = `${m.daemonSet.metadata.namespace}/${m.daemonSet.metadata.name}`;
  const installSh = [
    'kube-ovn install.sh settings for offload (set them before "bash install.sh"):',
    `  ${m.installSh.map(([k, v]) => `${k}=${k === 'IFACE' ? iface : v}`).join(' ')}`,
    'ENABLE_LB=false because the NIC cannot offload the dp_hash/hash actions of OVN load balancers.',
  ];
  const common = {
    configMap: [
      `SR-IOV device plugin config: offers the VFs these selectors match as ${resourceName}.`,
      input.source ?? 'Selectors given on the command line; no node was read.',
      'The device plugin DaemonSet itself: deployments/sriovdp-daemonset.yaml of sriov-network-device-plugin.',
    ],
    daemonSet: [
      `DaemonSet ${ds}: installs kube-ovn-offload into /opt/cni/bin on every Linux node, and stays up so that doctor can run there:`,
      `  kubectl -n ${m.daemonSet.metadata.namespace} exec ds/${m.daemonSet.metadata.name} -- kube-ovn-offload doctor`,
      'Replace registry.example.com with the registry its image was pushed to (deploy/README.md of kube-ovn-offload).',
    ],
  };
  if (input.topology === 'guard') {
    return {
      ...common,
      nad: [
        `NetworkAttachmentDefinition ${nadRef}: the pod's default network, plugins [kube-ovn-offload, kube-ovn, portmap].`,
        'kube-ovn-offload (mode guard) checks the VF\'s offload set-up and refuses the pod when offload cannot work; '
          + 'kube-ovn\'s own plugin, next, asks the kube-ovn daemon for the pod\'s NIC as before. '
          + 'kube-ovn must stay in the list: kube-ovn-controller allocates addresses only for a NAD that has a "type": "kube-ovn" plugin (IsOvnNetwork).',
        'Its resourceName annotation makes Multus pass the pod\'s VF to the plugins as deviceID.'
          + (input.vfDriver ? ' vf_driver is in both entries: each plugin is given only its own.' : ''),
      ],
      subnet: [
        `Subnet ${m.subnet!.metadata.name}: the addresses of provider ${guardProvider(input)}, the NAD's pods. `
          + 'kube-ovn v1.15.18-v1.15.24 and v1.16.3 onwards refuse those pods without it ("provider ... is not bound to any subnet"); '
          + 'older releases use it too, and without it fall back to ovn-default.',
        'Its CIDR (--cidr) must overlap no other Subnet of VPC ovn-cluster (kube-ovn\'s defaults: ovn-default 10.16.0.0/16, '
          + 'join 100.64.0.0/16), nor the node or Service networks.',
        'No spec.namespaces: kube-ovn binds the namespaces listed to a Subnet whatever its provider. '
          + 'natOutgoing as ovn-default has it: this is the pods\' default network.',
      ],
      pod: [`Example Pod: default network ${nadRef}, one VF of ${resourceName}.`],
      trailer: installSh,
    };
  }
  const multusConf = {
    cniVersion: input.cniVersion,
    name: 'multus-cni-network',
    type: 'multus',
    capabilities: { portMappings: true },
    kubeconfig: '/etc/cni/net.d/multus.d/multus.kubeconfig',
    multusNamespace: input.multusNamespace,
    clusterNetwork: input.nad.name,
  };
  return {
    ...common,
    nad: [
      `NetworkAttachmentDefinition ${nadRef}: Multus's clusterNetwork (the Multus settings are at the end), `
        + 'plugins [kube-ovn-offload, portmap].',
      'kube-ovn-offload (mode shim) checks a pod\'s VF and forwards the pod to the kube-ovn daemon itself; '
        + 'a pod without a VF goes to the daemon unchecked.',
      'In Multus\'s namespace, where Multus looks its clusterNetwork up by name. '
        + 'Its resourceName annotation makes Multus pass a pod\'s VF to the plugin as deviceID.',
      `cniVersion ${input.cniVersion}: STATUS and GC reach the plugin at 1.1.0 only (--cni-version 1.1.0, and the same `
        + 'in Multus\'s own configuration); every plugin of the list, portmap too, must then support 1.1.0.',
    ],
    subnet: [],
    pod: [
      `Example Pod: one VF of ${resourceName}, and no v1.multus-cni.io/default-network annotation: `
        + 'kube-ovn-controller gives it the ordinary ovn network, which the daemon plumbs on the VF.',
    ],
    trailer: [
      ...installSh,
      '',
      `Multus must run ${nadRef} as its clusterNetwork, named by the NAD's name: only then does Multus pass it `
        + 'deviceID (what Multus\'s "auto" configuration sets up, the node\'s primary CNI file as clusterNetwork '
        + 'path or delegate, gets none).',
      'Thick plugin (multus-daemonset-thick.yml): add to daemon-config.json in ConfigMap '
        + 'kube-system/multus-daemon-config, then restart the kube-multus-ds pods:',
      `    "clusterNetwork": "${input.nad.name}",`,
      `    "multusNamespace": "${input.multusNamespace}",`,
      'Thin plugin (multus-daemonset.yml): put this in ConfigMap kube-system/multus-cni-config, key cni-conf.json, '
        + 'mounted as 00-multus.conf (before kube-ovn\'s 01-kube-ovn.conflist), '
        + 'and start kube-multus with --multus-conf-file=/tmp/multus-conf/00-multus.conf instead of =auto:',
      ...prettyJson(multusConf).trimEnd().split('\n').map((l) => `    ${l}`),
    ],
  };
}

/** One YAML stream: each object under a comment saying what it is for, the rest as comments. */
export function renderYaml(m: Manifests): string {
  const comments = commentsOf(m);
  const yamlComment = (paragraphs: string[]) => wrap(paragraphs).map((l) => (l ? ` ${l}` : '')).join('\n');
  const asYaml = (object: K8sObject, comment: string[], trailer?: string[]) => {
    const doc = new Document(object);
    // On the content, not the document, so no blank line separates comment and object.
    if (doc.contents) doc.contents.commentBefore = yamlComment(comment);
    if (trailer) doc.comment = yamlComment(trailer);
    // singleQuote: '1' as the seed writes quantities; lineWidth 0: never fold a long line.
    return doc.toString({ singleQuote: true, lineWidth: 0 });
  };
  // The DaemonSet as deploy/daemonset.yaml writes it, the comments inside included.
  const daemonSet = `${wrap(comments.daemonSet).map((l) => `# ${l}`).join('\n')}\n${DAEMONSET_YAML.replace(HEADER_COMMENT, '')}`;
  const docs = [
    asYaml(m.configMap, comments.configMap),
    daemonSet,
    asYaml(m.nad, comments.nad),
    ...(m.subnet ? [asYaml(m.subnet, comments.subnet)] : []),
    asYaml(m.pod, comments.pod, comments.trailer),
  ];
  return docs.map((d) => `---\n${d}`).join('');
}

/** The objects alone, for tools. */
export function renderJson(m: Manifests): string {
  return `${JSON.stringify(objectsOf(m), null, 2)}\n`;
}

// --- the node -------------------------------------------------------------------------------

export type Discovery =
  | { ok: true; selectors: Selectors; iface?: string; source: string }
  | { ok: false; message: string; fix: string[] };

const hex = (id: string) => id.replace(/^0x/, '');
/** A VF the device plugin can offer: bound to a driver (an unbound VF is no netdevice). */
const usable = (vf: VfInventory) => vf.driver !== '' && vf.device !== '';
const unique = (xs: string[]) => [...new Set(xs)].sort();
/** The name sriov-network-device-plugin knows a PF by: the uplink, or the only netdev in legacy mode. */
const pfNetdev = (pf: PfInventory) => pf.uplink ?? (pf.netdevs.length === 1 ? pf.netdevs[0] : undefined);
const pfLabel = (pf: PfInventory) => `${pf.pci} (${[pf.family ?? `device ${pf.device}`, pfNetdev(pf)].filter(Boolean).join(', ')})`;
const OFFLINE_HINT = 'or, for a node this is not: kube-ovn-offload manifests --resource NAME --vendor-device 15b3:1018 --driver mlx5_core';

/** The device plugin's selectors from the VFs this node has; pure over the inventory. */
export function selectorsFromInventory(pfs: PfInventory[], pfName?: string): Discovery {
  let chosen: PfInventory[];
  if (pfName !== undefined) {
    const pf = pickPf(pfs, pfName);
    if (!pf) {
      const found = pfs.length ? `Mellanox PFs here: ${pfs.map(pfLabel).join(', ')}` : 'no Mellanox PF here at all';
      return { ok: false, message: `no Mellanox PF ${JSON.stringify(pfName)} on this node (${found})`, fix: pfs.length ? ['name one of them with --pf, or leave --pf out'] : [OFFLINE_HINT] };
    }
    chosen = [pf];
  } else {
    // Without --pf, only the families that do ASAP²: a ConnectX-4's VFs would be refused.
    chosen = pfs.filter((p) => p.family !== undefined);
    if (!chosen.length) {
      const what = pfs.length ? `Mellanox PFs ${pfs.map(pfLabel).join(', ')} do no ASAP² offload` : 'no Mellanox PF on this node';
      return { ok: false, message: what, fix: ['run this on a node with a ConnectX-5/6/7 or BlueField', OFFLINE_HINT] };
    }
  }
  const withVfs = chosen.filter((p) => p.vfs.some(usable));
  if (!withVfs.length) {
    const pf = chosen[0]!;
    const setup = `kube-ovn-offload setup --pf ${pfNetdev(pf) ?? pf.pci} --vfs ${pf.totalVfs || 4}`;
    const none = chosen.every((p) => p.vfs.length === 0);
    const pfsText = chosen.map(pfLabel).join(', ');
    return {
      ok: false,
      message: none
        ? `no Mellanox VF on this node: ${pfsText} ${chosen.length > 1 ? 'have' : 'has'} no VFs`
        : `no Mellanox VF on this node that a driver holds: the VFs of ${pfsText} are unbound`,
      fix: [none ? `create them first: ${setup}` : `bind them to mlx5_core in switchdev mode: ${setup}`, OFFLINE_HINT],
    };
  }
  const vfs = withVfs.flatMap((p) => p.vfs.filter(usable));
  const names = withVfs.map(pfNetdev);
  const selectors: Selectors = {
    vendors: [hex(MELLANOX)],
    devices: unique(vfs.map((v) => hex(v.device))),
    drivers: unique(vfs.map((v) => v.driver)),
  };
  // A PF without a name would have its VFs left out by pfNames: then match on ids alone.
  if (names.every((n): n is string => n !== undefined)) selectors.pfNames = unique(names);
  const source = `Selectors from this node: ${withVfs
    .map((p) => `PF ${pfLabel(p)} with ${p.vfs.filter(usable).length} VFs`)
    .join('; ')}.`;
  return { ok: true, selectors, iface: pfNetdev(withVfs[0]!), source };
}

/** Selectors from --vendor-device/--driver/--pf, for a machine that is not the node. */
function selectorsFromFlags(vendorDevices: string[], drivers: string[], pf: string | undefined): Selectors {
  const ids = vendorDevices.map((vd) => {
    const m = /^(?:0x)?([0-9a-fA-F]{4}):(?:0x)?([0-9a-fA-F]{4})$/.exec(vd); // "15b3:1018", as lspci -nn prints it
    if (!m) throw new UsageError(`--vendor-device ${JSON.stringify(vd)}: expected VENDOR:DEVICE, e.g. 15b3:1018`);
    return { vendor: m[1]!.toLowerCase(), device: m[2]!.toLowerCase() };
  });
  const foreign = ids.find((i) => i.vendor !== hex(MELLANOX));
  if (foreign) throw new UsageError(`--vendor-device ${foreign.vendor}:${foreign.device}: kube-ovn-offload offloads Mellanox VFs only (vendor 15b3)`);
  const badDriver = drivers.find((d) => !DRIVER.test(d));
  if (badDriver !== undefined) throw new UsageError(`--driver ${JSON.stringify(badDriver)}: expected a kernel driver name, e.g. mlx5_core`);
  if (pf !== undefined && !isPciAddress(pf) && !isNetdevName(pf)) {
    throw new UsageError(`--pf ${JSON.stringify(pf)}: expected the PF's netdev (e.g. enp66s0f0np0) or PCI address (e.g. 0000:42:00.0)`);
  }
  const selectors: Selectors = {
    vendors: [hex(MELLANOX)],
    devices: unique(ids.map((i) => i.device)),
    drivers: unique(drivers.length ? drivers : [DEFAULTS.driver]),
  };
  if (pf !== undefined && isPciAddress(pf)) selectors.rootDevices = [pf];
  else if (pf !== undefined) selectors.pfNames = [pf];
  return selectors;
}

// --- the command ----------------------------------------------------------------------------

const HELP = `Usage: kube-ovn-offload manifests --resource NAME [--topology guard|shim] [options]

Prints the YAML that the offload set-up has you write by hand, made from this node's
Mellanox VFs, as one stream for "kubectl apply -f -":
  1. ConfigMap kube-system/sriovdp-config: the SR-IOV device plugin's resource, with
     selectors (vendor, device id, driver, PF names) read from the VFs found here;
  2. DaemonSet kube-system/kube-ovn-offload, which installs kube-ovn-offload on every node;
  3. a NetworkAttachmentDefinition annotated with the resource, so that Multus passes the
     pod's VF as deviceID; what it holds depends on the topology:
       guard (default): NAD NS/NAME, the pod's default network, plugins [kube-ovn-offload,
         kube-ovn, portmap]: ours checks the VF, kube-ovn's then asks the daemon for the NIC
         (kube-ovn-controller serves only a NAD with a kube-ovn plugin in it); and
         4. the kube-ovn Subnet of its provider, which kube-ovn v1.15.18+ needs;
       shim: NAD NS/NAME in Multus's namespace, Multus's clusterNetwork, plugins
         [kube-ovn-offload, portmap]: ours checks a pod's VF and asks the daemon itself;
         pods without a VF pass through;
  5. an example Pod that asks for one VF (guard: with the NAD as its default network);
and, as comments at the end, the kube-ovn install.sh settings for offload and, for shim,
Multus's clusterNetwork setting (thick and thin).

Options:
  --resource NAME       device plugin resource name, e.g. cx5_sriov_switchdev (required)
  --topology T          guard or shim (default ${DEFAULTS.topology})
  --prefix DOMAIN       resource prefix; pods ask for DOMAIN/NAME (default ${DEFAULTS.prefix})
  --nad NS/NAME         the NetworkAttachmentDefinition (default ${DEFAULTS.nad} for guard,
                        MULTUS_NS/${DEFAULTS.shimNadName} for shim)
  --provider P          guard: the provider in kube-ovn's entry and the Subnet
                        (default NAME.NS.ovn from --nad, the only one kube-ovn-controller serves)
  --cidr CIDR           guard: the Subnet's CIDR; IPv4, IPv6, or both joined by a comma
                        (default ${DEFAULTS.cidr}, beside kube-ovn's 10.16.0.0/16 and 100.64.0.0/16)
  --multus-namespace NS shim: Multus's multusNamespace, where the NAD goes (default ${DEFAULTS.multusNamespace})
  --vf-driver DRIVER    vf_driver in every entry that reads it, e.g. vfio-pci (default none:
                        the VF is a netdev that moves into the pod)
  --cni-version V       the conflist's cniVersion (default ${DEFAULTS.cniVersion.guard} for guard, ${DEFAULTS.cniVersion.shim} for shim;
                        one of ${SUPPORTED_VERSIONS.join(', ')}; STATUS and GC need 1.1.0)
  --image IMG           the example Pod's image (default ${DEFAULTS.image})
  --pf DEV              only the VFs of this PF, by netdev or PCI address
                        (default every ConnectX-5/6/7 or BlueField PF that has VFs)
  --iface DEV           install.sh IFACE (default the PF's uplink)
  --vendor-device V:D   do not read this node: match VFs of PCI id V:D, e.g. 15b3:1018
                        (repeatable; with --pf, only that PF's VFs)
  --driver NAME         with --vendor-device: the VFs' driver (default ${DEFAULTS.driver}; repeatable)
  --json                the objects as a JSON array, for tools
  -h, --help            this text

Exit status: 0 printed; 1 no Mellanox VF on this node (create them first with
"kube-ovn-offload setup --pf DEV --vfs N"); 2 bad arguments.

Examples:
  kube-ovn-offload manifests --resource cx5_sriov_switchdev | kubectl apply -f -
  kube-ovn-offload manifests --resource cx5_sriov_switchdev --topology shim
`;

function flagsOf(argv: string[]) {
  // No defaults where the topology decides them (--nad, --cni-version) or where a flag of the
  // other topology must be noticed (--cidr, --provider, --multus-namespace).
  return parseFlags(argv, {
    resource: { type: 'string' },
    topology: { type: 'string', default: DEFAULTS.topology },
    prefix: { type: 'string', default: DEFAULTS.prefix },
    nad: { type: 'string' },
    provider: { type: 'string' },
    cidr: { type: 'string' },
    'multus-namespace': { type: 'string' },
    'vf-driver': { type: 'string' },
    'cni-version': { type: 'string' },
    image: { type: 'string', default: DEFAULTS.image },
    pf: { type: 'string' },
    iface: { type: 'string' },
    'vendor-device': { type: 'string', multiple: true, default: [] },
    driver: { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean', default: false },
  });
}
type Flags = ReturnType<typeof flagsOf>;

const FLAG: Record<string, string> = {
  topology: '--topology', resource: '--resource', prefix: '--prefix', nad: '--nad', provider: '--provider',
  cidr: '--cidr', multusNamespace: '--multus-namespace', vfDriver: '--vf-driver',
  cniVersion: '--cni-version', image: '--image', iface: '--iface',
};

/** A flag that only the other topology takes: a usage error saying why, not silently ignored. */
function refuse(given: string | undefined, flag: string, why: string): void {
  if (given !== undefined) throw new UsageError(`${flag} ${JSON.stringify(given)}: ${why}`);
}

/** The flags' values for one topology, its defaults filled in; not yet checked. */
function rawOptions(topology: Topology, f: Flags): Record<string, string | undefined> {
  const common = { topology, resource: f.resource, prefix: f.prefix, image: f.image, iface: f.iface, vfDriver: f['vf-driver'], cniVersion: f['cni-version'] ?? DEFAULTS.cniVersion[topology] };
  if (topology === 'guard') {
    refuse(f['multus-namespace'], '--multus-namespace', 'goes with --topology shim; the guard NAD is named by --nad alone');
    return { ...common, nad: f.nad ?? DEFAULTS.nad, provider: f.provider, cidr: f.cidr ?? DEFAULTS.cidr };
  }
  refuse(f.cidr, '--cidr', 'goes with --topology guard; shim pods get addresses of kube-ovn\'s default network, so no Subnet is written');
  refuse(f.provider, '--provider', `goes with --topology guard; the shim forwards as kube-ovn's default network, provider ${OVN_PROVIDER}`);
  const multusNamespace = f['multus-namespace'] ?? DEFAULTS.multusNamespace;
  return { ...common, multusNamespace, nad: f.nad ?? `${multusNamespace}/${DEFAULTS.shimNadName}` };
}

/** The flags' values, checked: every problem is a UsageError naming the flag and the value. */
function checkOptions(raw: Record<string, string | undefined>): ManifestOptions {
  const m = /^([^/]+)\/([^/]+)$/.exec(raw.nad ?? ''); // "kube-system/offload"
  if (!m) throw new UsageError(`--nad ${JSON.stringify(raw.nad)}: expected NAMESPACE/NAME, e.g. default/default`);
  const parsed = ManifestOptions.safeParse({ ...raw, nad: { namespace: m[1], name: m[2] } }, ENGLISH);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0]);
  throw new UsageError(`${FLAG[key] ?? key} ${JSON.stringify(raw[key])}: ${issue.message}`);
}

export const manifests: Command = {
  name: 'manifests',
  summary: 'the device-plugin ConfigMap, installer DaemonSet, NetworkAttachmentDefinition (guard: and Subnet) and example Pod, as YAML',
  help: HELP,
  async run(io: CliIo): Promise<number> {
    const f = flagsOf(io.argv);
    if (f.resource === undefined) throw new UsageError('--resource NAME is required (e.g. --resource cx5_sriov_switchdev)');
    const topology = Topology.safeParse(f.topology, ENGLISH);
    if (!topology.success) throw new UsageError(`--topology ${JSON.stringify(f.topology)}: must be guard or shim`);
    const offline = f['vendor-device'].length > 0;
    if (!offline && f.driver.length) throw new UsageError('--driver goes with --vendor-device; without it the drivers are read from the VFs');
    const options = checkOptions(rawOptions(topology.data, f));

    let found: Discovery;
    if (offline) {
      const selectors = selectorsFromFlags(f['vendor-device'], f.driver, f.pf);
      found = { ok: true, selectors, iface: selectors.pfNames?.[0], source: 'Selectors from --vendor-device/--driver/--pf: no node was read.' };
    } else {
      try {
        found = selectorsFromInventory(await mellanoxPfs(hostFromEnv(io.env).sysfs), f.pf);
      } catch (err) {
        if (!(err instanceof CniError)) throw err;
        io.err(`kube-ovn-offload manifests: ${err.message}\n`);
        return 1;
      }
    }
    if (!found.ok) {
      io.err(`kube-ovn-offload manifests: ${found.message}\n${found.fix.map((l) => `  ${l}\n`).join('')}`);
      return 1;
    }
    // By construction valid; a node whose sysfs says something odd is reported, not printed.
    const input = ManifestInput.safeParse({ ...options, iface: options.iface ?? found.iface, selectors: found.selectors, source: found.source }, ENGLISH);
    if (!input.success) {
      io.err(`kube-ovn-offload manifests: the VFs found give selectors the device plugin would not take: ${z.prettifyError(input.error)}\n`);
      return 1;
    }
    const m = buildManifests(input.data);
    io.out(f.json ? renderJson(m) : renderYaml(m));
    return 0;
  },
};
