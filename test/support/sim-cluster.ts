/**
 * The cluster the simulated kube-ovn daemon lives in, and what kube-ovn-controller would have
 * allocated in it before any CNI call: NetworkAttachmentDefinitions with their configs,
 * Subnets, pods with their annotations, and the kube-ovn version, which decides the rules.
 * It is as strict as the controller: a pod gets an address for a provider only where the
 * controller would have annotated one, read in kube-ovn's source (HEAD 1533681d and the tags
 * named below). Test-only; never shipped.
 */

export interface Nad {
  namespace: string;
  name: string;
  /** spec.config: a conf or a conflist, as the NAD holds it. */
  config: { type?: string; plugins?: Array<{ type?: string }>; ipam?: { type?: string } };
}

export interface Subnet {
  name: string;
  /** spec.provider: "ovn" for OVN subnets of the default network, "<nad>.<ns>.ovn" for a NAD's. */
  provider: string;
  cidrBlock: string;
  gateway: string;
}

export interface ClusterSpec {
  /** "head" (1533681d, v1.17 to be), or a release tag "v1.13.0" … "v1.16.2" (v1.12 has no releaseVf: not modelled). */
  version: string;
  nads?: Nad[];
  /** Besides ovn-default (10.16.0.0/16, provider ovn), which every kube-ovn install has. */
  subnets?: Subnet[];
  /** Pods by "<namespace>/<name>", with their annotations. */
  pods?: Record<string, Record<string, string>>;
  /** The annotations of any pod not in `pods` (a test's many pods); without it, such a pod does not exist. */
  anyPod?: Record<string, string>;
}

export interface Allocation {
  provider: string;
  subnet: Subnet;
  ip: string;
  /** The pod's MAC as kube-ovn writes it in the annotation, upper-case ("00:00:00:E3:20:0B"). */
  mac: string;
  v6?: { ip: string; cidr: string; gateway: string };
}

const DEFAULT_NETWORK = 'v1.multus-cni.io/default-network';
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const OVN_DEFAULT: Subnet = { name: 'ovn-default', provider: 'ovn', cidrBlock: '10.16.0.0/16', gateway: '10.16.0.1' };

export class SimCluster {
  readonly spec: ClusterSpec;
  private readonly version: number[];
  private readonly allocations = new Map<string, Allocation[]>();
  private nextHost = new Map<string, number>();

  constructor(spec: ClusterSpec, readonly opts: { dualStack?: boolean } = {}) {
    this.spec = { nads: [], subnets: [], pods: {}, ...spec };
    this.version = spec.version === 'head' ? [1, 17, 0] : spec.version.replace(/^v/, '').split('.').map(Number);
    if (this.version.length !== 3 || this.version.some((n) => !Number.isInteger(n))) throw new Error(`kube-ovn version ${spec.version}: expected "head" or "vX.Y.Z"`);
  }

  /** Whether the cluster runs kube-ovn v<major>.<minor>.<patch> or later (HEAD counts as v1.17.0). */
  atLeast(...v: [number, number, number]): boolean {
    for (let i = 0; i < 3; i++) if (this.version[i] !== v[i]) return this.version[i]! > v[i]!;
    return true;
  }

  /**
   * #6957 (HEAD), #6966 (v1.15.18 … v1.15.24), #6965 (release-1.16, v1.16.3): a NAD provider
   * needs a Subnet with that spec.provider, in the controller and in the daemon's providerExists.
   */
  get providerNeedsSubnet(): boolean {
    return this.atLeast(1, 16, 3) || (this.atLeast(1, 15, 18) && !this.atLeast(1, 16, 0));
  }

  /** pkg/request/cniserver.go: `ips[]` since v1.16.0, `protocol/address/cidr/gateway` before. */
  get legacyResponse(): boolean {
    return !this.atLeast(1, 16, 0);
  }

  /** Every Subnet, ovn-default first. */
  get subnets(): Subnet[] {
    return [OVN_DEFAULT, ...this.spec.subnets!];
  }

  addPod(namespace: string, name: string, annotations: Record<string, string> = {}): void {
    this.spec.pods![`${namespace}/${name}`] = annotations;
  }

  /** The pod's annotations; undefined when no such pod exists (the daemon's podsLister.Get fails). */
  pod(namespace: string, name: string): Record<string, string> | undefined {
    return this.spec.pods![`${namespace}/${name}`] ?? this.spec.anyPod;
  }

  /**
   * The daemon's providerExists (pkg/daemon/handler.go): the error text when it refuses with
   * 400, undefined when it lets the request through.
   */
  providerRefusal(provider: string, ifname: string): string | undefined {
    const strict = this.providerNeedsSubnet;
    // ≤ v1.16.2: IsOvnProvider lets "", "ovn" and any "<a>.<b>.ovn" through without a subnet.
    if (provider === '' || provider === 'ovn' || (!strict && isOvnProvider(provider))) return undefined;
    // v1.16.2 and later compare without a ".<ifname>" suffix (strings.CutSuffix); before, as given.
    const wanted = this.atLeast(1, 16, 2) && provider.endsWith(`.${ifname}`) ? provider.slice(0, -ifname.length - 1) : provider;
    if (this.spec.subnets!.some((s) => s.provider === wanted)) return undefined;
    return strict ? `provider ${provider} is not bound to any subnet` : `provider ${provider} not bind to any subnet`;
  }

  /**
   * What kube-ovn-controller annotated on the pod for `provider` (handleAddOrUpdatePod →
   * getPodKubeovnNets), undefined when it allocated nothing there. Stable for a pod's life.
   */
  allocation(namespace: string, name: string, provider: string): Allocation | undefined {
    const key = `${namespace}/${name}`;
    let nets = this.allocations.get(key);
    if (!nets) {
      const annotations = this.pod(namespace, name);
      nets = annotations ? this.podNets(namespace, annotations).map((n) => this.allocate(n.provider, n.subnet)) : [];
      this.allocations.set(key, nets);
    }
    return nets.find((n) => n.provider === provider);
  }

  /**
   * getPodKubeovnNets (pkg/controller/pod.go): the pod's attachments (getPodAttachmentNet),
   * plus the default `ovn` network only for a pod without the default-network annotation.
   * Any attachment the controller cannot resolve fails the whole pod: nothing is allocated.
   */
  private podNets(namespace: string, annotations: Record<string, string>): Array<{ provider: string; subnet: Subnet }> {
    const nets: Array<{ provider: string; subnet: Subnet }> = [];
    const attachments = [...parseNetworks(annotations[DEFAULT_NETWORK], namespace), ...parseNetworks(annotations[NETWORKS], namespace)];
    for (const attach of attachments) {
      const nad = this.spec.nads!.find((n) => n.namespace === attach.namespace && n.name === attach.name);
      if (!nad) return []; // "failed to get net-attach-def": the controller gives up on the pod
      if (isOvnNetwork(nad.config)) {
        const provider = `${nad.name}.${nad.namespace}.ovn`;
        const named = annotations[`${provider}.kubernetes.io/logical_switch`];
        const subnet = this.subnets.find((s) => (named ? s.name === named : s.provider === provider));
        if (subnet) nets.push({ provider, subnet });
        // A logical_switch annotation naming no Subnet: subnetsLister.Get fails, so does the pod.
        else if (named) return [];
        // HEAD, v1.15.18+, v1.16.3+: "provider … is not bound to any subnet", the pod fails.
        else if (this.providerNeedsSubnet) return [];
        // ≤ v1.15.17 and v1.16.0–2 fall back to getPodDefaultSubnet.
        else nets.push({ provider, subnet: this.defaultSubnet(annotations) });
      } else {
        // Not an OVN network: an IPAM-only provider "<nad>.<ns>", which the daemon never plumbs.
        // release-1.16 (v1.16.3) and HEAD take it only with ipam.type kube-ovn
        // (isKubeOVNIPAMNetwork) and fail the pod when no Subnet names it; older releases take
        // any NAD that some Subnet names, and skip it otherwise.
        const provider = `${nad.name}.${nad.namespace}`;
        const subnet = this.spec.subnets!.find((s) => s.provider === provider);
        const strict = this.atLeast(1, 16, 3);
        if (strict && nad.config.ipam?.type !== 'kube-ovn') continue;
        if (subnet) nets.push({ provider, subnet });
        else if (strict) return [];
      }
    }
    if (annotations[DEFAULT_NETWORK] === undefined) nets.push({ provider: 'ovn', subnet: this.defaultSubnet(annotations) });
    return nets;
  }

  /** getPodDefaultSubnet: the pod's ovn.kubernetes.io/logical_switch, else ovn-default. */
  private defaultSubnet(annotations: Record<string, string>): Subnet {
    const named = annotations['ovn.kubernetes.io/logical_switch'];
    return (named && this.subnets.find((s) => s.name === named)) || OVN_DEFAULT;
  }

  private allocate(provider: string, subnet: Subnet): Allocation {
    const n = (this.nextHost.get(subnet.name) ?? 1) + 1;
    this.nextHost.set(subnet.name, n);
    const [a, b] = subnet.cidrBlock.split('.');
    const ip = `${a}.${b}.${(n >> 8) & 255}.${n & 255}`;
    const mac = `00:00:00:${hex(n >> 16)}:${hex(n >> 8)}:${hex(n)}`.toUpperCase();
    const v6 = this.opts.dualStack ? { ip: `fd00:${a}:${b}::${n.toString(16)}`, cidr: `fd00:${a}:${b}::/64`, gateway: `fd00:${a}:${b}::1` } : undefined;
    return { provider, subnet, ip, mac, ...(v6 ? { v6 } : {}) };
  }
}

/** pkg/util/network_attachment.go IsOvnNetwork, v1.11 → HEAD: some plugin is "type": "kube-ovn". */
export function isOvnNetwork(config: Nad['config']): boolean {
  return config.type === 'kube-ovn' || (config.plugins ?? []).some((p) => p.type === 'kube-ovn');
}

/** pkg/util/subnet.go IsOvnProvider: "", "ovn", or three dot-separated fields ending in "ovn". */
export function isOvnProvider(provider: string): boolean {
  const fields = provider.split('.');
  return provider === '' || provider === 'ovn' || (fields.length === 3 && fields[2] === 'ovn');
}

/** A Multus network annotation: "ns/name", "name", "a, b/c@net1", or its JSON list form. */
function parseNetworks(text: string | undefined, podNamespace: string): Array<{ namespace: string; name: string }> {
  if (!text?.trim()) return [];
  if (text.trim().startsWith('[')) {
    return (JSON.parse(text) as Array<{ name: string; namespace?: string }>).map((e) => ({ namespace: e.namespace || podNamespace, name: e.name }));
  }
  return text.split(',').map((item) => {
    const [ref = ''] = item.trim().split('@');
    const [ns, name] = ref.includes('/') ? ref.split('/') : [podNamespace, ref];
    return { namespace: ns!, name: name! };
  });
}

function hex(n: number): string {
  return (n & 255).toString(16).padStart(2, '0');
}
