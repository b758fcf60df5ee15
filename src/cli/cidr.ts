/**
 * A kube-ovn Subnet's addressing from its `cidrBlock`, as kube-ovn reads one: a CIDR, or an
 * IPv4 and an IPv6 CIDR joined by a comma (protocol Dual). Pure: addresses are BigInts.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Protocol = 'IPv4' | 'IPv6' | 'Dual';

/** The Subnet's spec fields that follow from its CIDRs. */
export interface Addressing {
  cidrBlock: string;
  protocol: Protocol;
  /** The first host of each CIDR, kube-ovn's own default; comma-joined for Dual. */
  gateway: string;
  /** The gateways, so that no pod is given one. */
  excludeIps: string[];
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

interface Cidr {
  family: 4 | 6;
  network: bigint;
  prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

// "10.17.0.0/16", "fd00:10:17::/112"; never "10.17.0.0" (no prefix), "10.17.0.0/016" or
// "fe80::%eth0/64" (a zone). The address itself is then checked by node:net.
const CIDR = /^([0-9A-Fa-f.:]+)\/(0|[1-9][0-9]{0,2})$/;

/**
 * What kube-ovn refuses a Subnet to overlap: pkg/util/net.go CIDRGlobalUnicast (IPv4Zero,
 * IPv4Loopback, …, IPv6LinkLocalUnicast) at commit 1533681d, called by ValidateSubnet.
 */
const RESERVED: Array<[string, string]> = [
  ['0.0.0.0/32', 'the zero address'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['::/128', 'the unspecified address'],
  ['::1/128', 'loopback'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
];

const hostMask = (c: { family: 4 | 6; prefix: number }) => (1n << BigInt(BITS[c.family] - c.prefix)) - 1n;

/** An address as a number and its family; undefined unless it is dotted-quad IPv4 or hex-group IPv6. */
export function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  if (isIPv4(text)) return { family: 4, value: text.split('.').reduce((n, octet) => (n << 8n) | BigInt(octet), 0n) };
  // An IPv4 tail ("::ffff:10.0.0.0") and a zone ("fe80::1%eth0") are valid IPv6 to node:net,
  // but no kube-ovn CIDR takes either form.
  if (!isIPv6(text) || /[.%]/.test(text)) return undefined;
  const [head, tail] = text.split('::') as [string, string | undefined];
  const before = head ? head.split(':') : [];
  const after = tail ? tail.split(':') : [];
  const groups = tail === undefined ? before : [...before, ...Array<string>(8 - before.length - after.length).fill('0'), ...after];
  return { family: 6, value: groups.reduce((n, group) => (n << 16n) | BigInt(parseInt(group, 16)), 0n) };
}

/** The address in the form kube-ovn accepts: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as "::"). */
export function addressText(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let run = { at: -1, length: 1 }; // RFC 5952: only a run of two or more zero groups becomes "::"
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > run.length) run = { at: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (run.at < 0) return hex.join(':');
  return `${hex.slice(0, run.at).join(':')}::${hex.slice(run.at + run.length).join(':')}`;
}

const cidrText = (c: Cidr) => `${addressText(c.family, c.network)}/${c.prefix}`;

function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const wider = { family: a.family, prefix: Math.min(a.prefix, b.prefix) };
  const keep = ~hostMask(wider);
  return (a.network & keep) === (b.network & keep);
}

function parseCidr(text: string): Parsed<Cidr> {
  const m = CIDR.exec(text);
  const address = m && parseAddress(m[1]!);
  if (!m || !address || Number(m[2]) > BITS[address.family]) return { ok: false, message: `"${text}" is not a CIDR such as 10.17.0.0/16 or fd00:10:17::/112` };
  const prefix = Number(m[2]);
  const bits = BITS[address.family];
  // Room for the gateway and at least one pod besides the network (and, in IPv4, broadcast) address.
  if (prefix > bits - 2) return { ok: false, message: `${text} leaves no address for a pod: use a prefix of at most /${bits - 2}` };
  const cidr: Cidr = { family: address.family, network: address.value, prefix };
  if (cidr.network & hostMask(cidr)) {
    return { ok: false, message: `${text} has host bits set: the network is ${cidrText({ ...cidr, network: cidr.network & ~hostMask(cidr) })}` };
  }
  const reserved = RESERVED_CIDRS.find((r) => overlaps(cidr, r.cidr));
  if (reserved) return { ok: false, message: `${text} overlaps ${reserved.text} (${reserved.what}), which kube-ovn refuses for a Subnet` };
  return { ok: true, value: cidr };
}

const RESERVED_CIDRS = RESERVED.map(([text, what]) => {
  const [address, prefix] = text.split('/') as [string, string];
  const a = parseAddress(address)!;
  return { text, what, cidr: { family: a.family, network: a.value, prefix: Number(prefix) } };
});

/** The Subnet's cidrBlock, protocol, gateway and excludeIps, or why kube-ovn would refuse the CIDRs. */
export function subnetAddressing(cidrBlock: string): Parsed<Addressing> {
  const parts = cidrBlock.split(',');
  if (parts.length > 2) return { ok: false, message: 'at most two CIDRs, one IPv4 and one IPv6, e.g. 10.17.0.0/16,fd00:10:17::/112' };
  const cidrs: Cidr[] = [];
  for (const part of parts) {
    const parsed = parseCidr(part);
    if (!parsed.ok) return parsed;
    cidrs.push(parsed.value);
  }
  if (cidrs.length === 2 && cidrs[0]!.family === cidrs[1]!.family) {
    return { ok: false, message: 'two CIDRs must be one IPv4 and one IPv6 (kube-ovn\'s Dual), e.g. 10.17.0.0/16,fd00:10:17::/112' };
  }
  // IPv4 first, as kube-ovn writes a Dual cidrBlock.
  cidrs.sort((a, b) => a.family - b.family);
  const gateways = cidrs.map((c) => addressText(c.family, c.network + 1n));
  return {
    ok: true,
    value: {
      cidrBlock: cidrs.map(cidrText).join(','),
      protocol: cidrs.length === 2 ? 'Dual' : cidrs[0]!.family === 4 ? 'IPv4' : 'IPv6',
      gateway: gateways.join(','),
      excludeIps: gateways,
    },
  };
}
