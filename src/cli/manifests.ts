/**
 * `kube-ovn-offload manifests`: the YAML the seed document has an operator write by hand
 * (the SR-IOV device plugin's ConfigMap, the NetworkAttachmentDefinition, an example Pod,
 * the install.sh settings), with the device plugin's selectors taken from this node's VFs
 * instead of copied from a web page.
 */
import { Document } from 'yaml';
import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { CniError } from '../cni/errors.js';
import { SUPPORTED_VERSIONS } from '../cni/version.js';
import { mellanoxPfs, pickPf, MELLANOX, type PfInventory, type VfInventory } from '../node/inventory.js';
import { isPciAddress } from '../node/pci.js';
import { isNetdevName } from '../node/port-name.js';
import type { Command } from './main.js';
import { hostFromEnv, parseFlags, UsageError, type CliIo } from './host.js';

// zod/mini loads no locale: without English, zod's own messages (a length limit, a wrong
// type) would all read "Invalid input".
z.config(en());

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

/** What the flags say; checked before the node is read, so a typo is exit 2 whatever the node has. */
export const ManifestOptions = z.object({
  resource: z.string().check(z.maxLength(63), z.regex(RESOURCE_NAME, 'must be letters, digits and "_", e.g. cx5_sriov_switchdev')),
  prefix: z.string().check(z.maxLength(253), z.regex(DNS_SUBDOMAIN, 'must be a DNS domain, e.g. mellanox.com')),
  nad: z.object({
    namespace: z.string().check(z.maxLength(63), z.regex(DNS_LABEL, 'the namespace must be a DNS-1123 label, e.g. kube-system')),
    name: z.string().check(z.maxLength(253), z.regex(DNS_SUBDOMAIN, 'the name must be a DNS-1123 subdomain, e.g. default')),
  }),
  /** kube-ovn's provider; default "<name>.<namespace>.ovn", the form kube-ovn expects of a NAD. */
  provider: z.optional(z.string().check(z.maxLength(253), z.regex(PROVIDER, 'must be letters, digits, ".", "_" and "-", e.g. default.default.ovn'))),
  cniVersion: z.enum(SUPPORTED_VERSIONS, `must be one of ${SUPPORTED_VERSIONS.join(', ')}`),
  image: z.string().check(z.regex(/^\S+$/, 'must be an image reference, e.g. docker.io/library/nginx:alpine')),
  /** install.sh's IFACE: the uplink that holds the node's IP. */
  iface: z.optional(Netdev),
});
export type ManifestOptions = z.infer<typeof ManifestOptions>;

/** Everything the manifests depend on: the options, and the selectors from the node or the flags. */
export const ManifestInput = z.extend(ManifestOptions, {
  selectors: Selectors,
  /** Where the selectors came from, one line for the reader of the YAML. */
  source: z.optional(z.string()),
});
export type ManifestInput = z.infer<typeof ManifestInput>;

export const DEFAULTS = {
  prefix: 'mellanox.com',
  nad: 'default/default',
  cniVersion: '0.3.1',
  image: 'docker.io/library/nginx:alpine',
  driver: 'mlx5_core',
  serverSocket: '/run/openvswitch/kube-ovn-daemon.sock',
  logFile: '/var/log/kube-ovn/kube-ovn-offload.log',
} as const;

// --- the objects ----------------------------------------------------------------------------

interface Meta {
  name: string;
  namespace: string;
  annotations?: Record<string, string>;
}
export interface ConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: Meta;
  data: Record<string, string>;
}
export interface NetworkAttachmentDefinition {
  apiVersion: 'k8s.cni.cncf.io/v1';
  kind: 'NetworkAttachmentDefinition';
  metadata: Meta;
  spec: { config: string };
}
export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: Meta;
  spec: {
    containers: Array<{
      name: string;
      image: string;
      resources: { requests: Record<string, string>; limits: Record<string, string> };
    }>;
  };
}
export type K8sObject = ConfigMap | NetworkAttachmentDefinition | Pod;

export interface Manifests {
  configMap: ConfigMap;
  nad: NetworkAttachmentDefinition;
  pod: Pod;
  /** kube-ovn's install.sh variables for offload, in the seed's order of importance. */
  installSh: Array<[string, string]>;
  input: ManifestInput;
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

/** The manifests for one resource and one NAD. Pure: same input, same objects. */
export function buildManifests(input: ManifestInput): Manifests {
  const { namespace, name } = input.nad;
  const resourceName = `${input.prefix}/${input.resource}`;
  const provider = input.provider ?? `${name}.${namespace}.ovn`;

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

  const conflist = {
    cniVersion: input.cniVersion,
    name: 'kube-ovn',
    plugins: [
      { type: 'kube-ovn-offload', server_socket: DEFAULTS.serverSocket, provider, log_file: DEFAULTS.logFile },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  const nad: NetworkAttachmentDefinition = {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    // The annotation is what makes Multus pass the allocated VF to the plugin as deviceID.
    metadata: { name, namespace, annotations: { 'k8s.v1.cni.cncf.io/resourceName': resourceName } },
    spec: { config: prettyJson(conflist) },
  };

  // In the NAD's namespace: Multus with namespaceIsolation refuses a NAD of another namespace.
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'offload-example', namespace, annotations: { 'v1.multus-cni.io/default-network': `${namespace}/${name}` } },
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
  return { configMap, nad, pod, installSh, input };
}

/** One YAML stream: each object under a comment saying what it is for, the rest as comments. */
export function renderYaml(m: Manifests): string {
  const { input } = m;
  const nadRef = `${input.nad.namespace}/${input.nad.name}`;
  const resourceName = `${input.prefix}/${input.resource}`;
  const parts: Array<[K8sObject, string[]]> = [
    [m.configMap, [
      `SR-IOV device plugin config: offers the VFs these selectors match as ${resourceName}.`,
      input.source ?? 'Selectors given on the command line; no node was read.',
      'The device plugin DaemonSet itself: deployments/sriovdp-daemonset.yaml of sriov-network-device-plugin.',
    ]],
    [m.nad, [
      `NetworkAttachmentDefinition ${nadRef}: kube-ovn-offload where "type": "kube-ovn" stood.`,
      `Its resourceName annotation makes Multus pass the pod's VF to the plugin as deviceID.`,
    ]],
    [m.pod, [`Example Pod: default network ${nadRef}, one VF of ${resourceName}.`]],
  ];
  const iface = input.iface ?? '<the uplink that holds the node IP>';
  const trailer = [
    'kube-ovn install.sh settings for offload (set them before "bash install.sh"):',
    `  ${m.installSh.map(([k, v]) => `${k}=${k === 'IFACE' ? iface : v}`).join(' ')}`,
    'ENABLE_LB=false because the NIC cannot offload the dp_hash/hash actions of OVN load balancers.',
    'Not generated yet: the DaemonSet that installs kube-ovn-offload into /opt/cni/bin on every node; apply deploy/daemonset.yaml of the kube-ovn-offload repository (deploy/README.md).',
  ];
  const docs = parts.map(([object, comment]) => {
    const doc = new Document(object);
    // On the content, not the document, so no blank line separates comment and object.
    if (doc.contents) doc.contents.commentBefore = comment.map((l) => ` ${l}`).join('\n');
    return doc;
  });
  docs[docs.length - 1]!.comment = trailer.map((l) => ` ${l}`).join('\n');
  // singleQuote: '1' as the seed writes quantities; lineWidth 0: never fold a long line.
  return docs.map((d) => `---\n${d.toString({ singleQuote: true, lineWidth: 0 })}`).join('');
}

/** The objects alone, for tools. */
export function renderJson(m: Manifests): string {
  return `${JSON.stringify([m.configMap, m.nad, m.pod], null, 2)}\n`;
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

const HELP = `Usage: kube-ovn-offload manifests --resource NAME [options]

Prints the YAML that the offload set-up has you write by hand, made from this node's
Mellanox VFs, as one stream for "kubectl apply -f -":
  1. ConfigMap kube-system/sriovdp-config: the SR-IOV device plugin's resource, with
     selectors (vendor, device id, driver, PF names) read from the VFs found here;
  2. NetworkAttachmentDefinition NS/NAME: kube-ovn-offload where "type": "kube-ovn" stood,
     annotated with the resource so that Multus passes the pod's VF as deviceID;
  3. an example Pod that asks for one VF and uses that NAD as its default network;
and, as comments at the end, the kube-ovn install.sh settings for offload.

Options:
  --resource NAME       device plugin resource name, e.g. cx5_sriov_switchdev (required)
  --prefix DOMAIN       resource prefix; pods ask for DOMAIN/NAME (default ${DEFAULTS.prefix})
  --nad NS/NAME         the NetworkAttachmentDefinition (default ${DEFAULTS.nad})
  --provider P          kube-ovn provider (default NAME.NS.ovn, from --nad)
  --cni-version V       the conflist's cniVersion (default ${DEFAULTS.cniVersion}; one of ${SUPPORTED_VERSIONS.join(', ')})
  --image IMG           the example Pod's image (default ${DEFAULTS.image})
  --pf DEV              only the VFs of this PF, by netdev or PCI address
                        (default every ConnectX-5/6/7 or BlueField PF that has VFs)
  --iface DEV           install.sh IFACE (default the PF's uplink)
  --vendor-device V:D   do not read this node: match VFs of PCI id V:D, e.g. 15b3:1018
                        (repeatable; with --pf, only that PF's VFs)
  --driver NAME         with --vendor-device: the VFs' driver (default ${DEFAULTS.driver}; repeatable)
  --json                the three objects as a JSON array, for tools
  -h, --help            this text

Exit status: 0 printed; 1 no Mellanox VF on this node (create them first with
"kube-ovn-offload setup --pf DEV --vfs N"); 2 bad arguments.

Example:
  kube-ovn-offload manifests --resource cx5_sriov_switchdev | kubectl apply -f -
`;

function flagsOf(argv: string[]) {
  return parseFlags(argv, {
    resource: { type: 'string' },
    prefix: { type: 'string', default: DEFAULTS.prefix },
    nad: { type: 'string', default: DEFAULTS.nad },
    provider: { type: 'string' },
    'cni-version': { type: 'string', default: DEFAULTS.cniVersion },
    image: { type: 'string', default: DEFAULTS.image },
    pf: { type: 'string' },
    iface: { type: 'string' },
    'vendor-device': { type: 'string', multiple: true, default: [] },
    driver: { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean', default: false },
  });
}

const FLAG: Record<string, string> = {
  resource: '--resource', prefix: '--prefix', nad: '--nad', provider: '--provider',
  cniVersion: '--cni-version', image: '--image', iface: '--iface',
};

/** The flags' values, checked: every problem is a UsageError naming the flag and the value. */
function checkOptions(raw: Record<keyof ManifestOptions, string | undefined>): ManifestOptions {
  const m = /^([^/]+)\/([^/]+)$/.exec(raw.nad ?? ''); // "kube-system/offload"
  if (!m) throw new UsageError(`--nad ${JSON.stringify(raw.nad)}: expected NAMESPACE/NAME, e.g. default/default`);
  const candidate = { ...raw, nad: { namespace: m[1], name: m[2] } };
  const parsed = ManifestOptions.safeParse(candidate);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0]);
  const value = key === 'nad' ? raw.nad : raw[key as keyof ManifestOptions];
  throw new UsageError(`${FLAG[key] ?? key} ${JSON.stringify(value)}: ${issue.message}`);
}

export const manifests: Command = {
  name: 'manifests',
  summary: 'the device-plugin ConfigMap, NetworkAttachmentDefinition and example Pod, as YAML',
  help: HELP,
  async run(io: CliIo): Promise<number> {
    const f = flagsOf(io.argv);
    if (f.resource === undefined) throw new UsageError('--resource NAME is required (e.g. --resource cx5_sriov_switchdev)');
    const offline = f['vendor-device'].length > 0;
    if (!offline && f.driver.length) throw new UsageError('--driver goes with --vendor-device; without it the drivers are read from the VFs');
    const options = checkOptions({
      resource: f.resource, prefix: f.prefix, nad: f.nad, provider: f.provider,
      cniVersion: f['cni-version'], image: f.image, iface: f.iface,
    });

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
    const input = ManifestInput.safeParse({ ...options, iface: options.iface ?? found.iface, selectors: found.selectors, source: found.source });
    if (!input.success) {
      io.err(`kube-ovn-offload manifests: the VFs found give selectors the device plugin would not take: ${z.prettifyError(input.error)}\n`);
      return 1;
    }
    const m = buildManifests(input.data);
    io.out(f.json ? renderJson(m) : renderYaml(m));
    return 0;
  },
};
