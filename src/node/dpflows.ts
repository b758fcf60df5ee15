/**
 * Datapath flows as `ovs-appctl dpctl/dump-flows [-m]` prints them (OVS `format_dpif_flow()`):
 *
 *   ufid:<uuid>, <key>, packets:<N>, bytes:<N>, used:<T>[, flags:<F>][, offloaded:<yes|partial>][, dp:<layer>], actions:<actions>[, dp-extra-info:<…>]
 *
 * The key's attributes are joined by "," with no space and hold commas of their own inside
 * parentheses (`ipv4(src=0.0.0.0/0.0.0.0,dst=…)`), so every split here is at paren depth 0.
 * Pure functions only: the CLI feeds them text from a file or from ovs-appctl.
 */
import { bounded } from '../cni/preview.js';

export interface DpFlow {
  /** Only with -m, and only when the flow has one. */
  ufid?: string;
  /** Top-level key attributes: name → the text inside its parentheses (`in_port` → `5b45c61b307e_h`). */
  match: Record<string, string>;
  inPort?: string;
  /** A double: exact up to 2^53 packets/bytes, which no counter reaches in practice. */
  packets: number;
  bytes: number;
  /** Seconds since the flow last matched a packet. */
  used: number | 'never';
  /** TCP flag letters seen (`SFP.`); printed only when non-zero. */
  flags?: string;
  /** Only with -m and only for offloaded flows; `partial` is DPDK mark offload (dp:ovs). */
  offloaded?: 'yes' | 'partial';
  /** Only with -m: `ovs`, `tc`, `dpdk`, `dummy`. */
  dp?: string;
  actions: string;
  dpExtraInfo?: string;
  /** Ports the actions output to, by name (-m) or number. */
  outputs: string[];
  /** A `hash` action or a `dp_hash` match with a non-zero mask: OVN's load balancer, which the NIC cannot offload. */
  usesHash: boolean;
}

export type ParsedLine =
  | { kind: 'flow'; flow: DpFlow }
  /** A blank line or a userspace-datapath header: not a flow, not an error. */
  | { kind: 'skip' }
  | { kind: 'malformed'; why: string };

export interface Malformed {
  /** 1-based. */
  line: number;
  text: string;
  why: string;
}

/** A flow with the line it was read from, for messages. */
export type NumberedFlow = DpFlow & { line: number };

export interface Dump {
  flows: NumberedFlow[];
  malformed: Malformed[];
}

const UFID = /^ufid:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}),\s*/i; // "ufid:91cc45de-e7e9-4935-8f82-1890430b0f66, "
const HEADER = /^flow-dump from .*:(?:\s*\d+)?$/; // "flow-dump from pmd on cpu core: 3", "flow-dump from the main thread:"
const KEY_ATTR = /^([a-z][a-z0-9_]*)\((.*)\)$/s; // "ipv4(src=0.0.0.0/0.0.0.0,proto=0/0,frag=no)" → "ipv4", "src=…,frag=no"
const FIELD = /^([a-z][a-z-]*):(.*)$/s; // "packets:941539", "dp-extra-info:miniflow_bits(4,1)"
const COUNT = /^\d+$/; // "62142230"
const USED = /^(-?\d+(?:\.\d+)?)s$/; // "0.260s" (%.3fs); "never" is matched separately
const FLAGS = /^[SFPRU.ECN]+$/; // "SFP.": SYN, FIN, PSH, ACK
const DP = /^[a-z][a-z0-9_-]*$/; // "tc", "ovs", "dpdk"
const ACTION = /^([a-z][a-z0-9_]*)\((.*)\)$/s; // "recirc(0x1)", "hash(l4(0))", "set(ipv4(dst=10.16.0.5))"
const PORT = /^[^\s(),]+$/; // "54235e5753b8_h", "3": an output action prints just the port
const MASKED = /^(.*)\/(0x[0-9a-f]+|\d+)$/i; // "0x1/0xf" → value "0x1", mask "0xf"

/** Actions without arguments that are not outputs. */
const BARE_ACTIONS = new Set(['drop', 'pop_vlan', 'pop_eth', 'pop_nsh', 'ct_clear']);
/** Actions whose arguments are themselves actions, so outputs can hide inside them. */
const NESTED_ACTIONS = new Set(['clone', 'check_pkt_len', 'gt', 'le', 'sample', 'actions']);

/**
 * Where `text` splits at commas outside parentheses: the pieces, untrimmed, each with its start
 * offset; an error when the parentheses do not balance (a line cut short, most often).
 */
export function splitTopLevel(text: string): { pieces: Array<{ at: number; text: string }> } | { why: string } {
  const pieces: Array<{ at: number; text: string }> = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') {
      if (--depth < 0) return { why: `unbalanced parentheses: ")" at column ${i + 1} closes nothing` };
    } else if (c === ',' && depth === 0) {
      pieces.push({ at: start, text: text.slice(start, i) });
      start = i + 1;
    }
  }
  if (depth !== 0) return { why: `unbalanced parentheses: ${depth} left open (line cut short?)` };
  pieces.push({ at: start, text: text.slice(start) });
  return { pieces };
}

/** One line of a dump: a flow, a line to skip, or why it is not a flow. */
export function parseFlowLine(line: string): ParsedLine {
  let rest = line.trim(); // also drops the \r of a dump saved with CRLF line ends
  if (rest === '' || HEADER.test(rest)) return { kind: 'skip' };

  let ufid: string | undefined;
  const u = UFID.exec(rest);
  if (u) {
    ufid = u[1]!.toLowerCase();
    rest = rest.slice(u[0].length);
  } else if (rest.startsWith('ufid:')) {
    return { kind: 'malformed', why: 'ufid: is not a UUID followed by ", "' };
  }

  const split = splitTopLevel(rest);
  if ('why' in split) return { kind: 'malformed', why: split.why };

  const match: Record<string, string> = {};
  const fields: Record<string, string> = {};
  let actions: string | undefined;
  let dpExtraInfo: string | undefined;
  for (let i = 0; i < split.pieces.length; i++) {
    const piece = split.pieces[i]!;
    const token = piece.text.trim();
    const field = FIELD.exec(token);
    if (field?.[1] === 'actions') {
      // Actions run to the end of the line, or to ", dp-extra-info:"; their own commas have no space.
      const extra = split.pieces.findIndex((p, j) => j > i && p.text.startsWith(' dp-extra-info:'));
      const end = extra === -1 ? rest.length : split.pieces[extra]!.at - 1;
      actions = rest.slice(piece.at, end).trim().slice('actions:'.length);
      if (extra !== -1) dpExtraInfo = rest.slice(split.pieces[extra]!.at).trim().slice('dp-extra-info:'.length);
      break;
    }
    if (field) {
      const [, name = '', value = ''] = field;
      if (!['packets', 'bytes', 'used', 'flags', 'offloaded', 'dp'].includes(name)) return { kind: 'malformed', why: `unknown field ${JSON.stringify(name + ':')}` };
      if (Object.hasOwn(fields, name)) return { kind: 'malformed', why: `field ${name}: appears twice` };
      fields[name] = value;
      continue;
    }
    if (token === '' && i === split.pieces.length - 1) break; // "…, used:0.260s," cut short: the missing fields say so
    const attr = KEY_ATTR.exec(token);
    if (!attr) return { kind: 'malformed', why: token === '' ? 'empty field (two commas in a row?)' : `${JSON.stringify(bounded(token, 40))} is neither a key attribute nor a field` };
    const [, name = '', value = ''] = attr;
    if (Object.keys(fields).length > 0) return { kind: 'malformed', why: `key attribute ${name}(…) after the statistics` };
    if (Object.hasOwn(match, name)) return { kind: 'malformed', why: `key attribute ${name}(…) appears twice` };
    match[name] = value;
  }

  if (fields.packets === undefined) return { kind: 'malformed', why: 'no packets: field' };
  if (fields.bytes === undefined) return { kind: 'malformed', why: 'no bytes: field' };
  if (fields.used === undefined) return { kind: 'malformed', why: 'no used: field' };
  if (actions === undefined) return { kind: 'malformed', why: 'no actions: field (line cut short?)' };
  if (!COUNT.test(fields.packets)) return { kind: 'malformed', why: `packets:${fields.packets} is not a count` };
  if (!COUNT.test(fields.bytes)) return { kind: 'malformed', why: `bytes:${fields.bytes} is not a count` };
  const used = parseUsed(fields.used);
  if (used === undefined) return { kind: 'malformed', why: `used:${fields.used} is neither seconds ("0.260s") nor "never"` };
  if (fields.flags !== undefined && !FLAGS.test(fields.flags)) return { kind: 'malformed', why: `flags:${fields.flags} are not TCP flag letters` };
  const offloaded = fields.offloaded;
  if (offloaded !== undefined && offloaded !== 'yes' && offloaded !== 'partial') return { kind: 'malformed', why: `offloaded:${offloaded} is neither "yes" nor "partial"` };
  if (fields.dp !== undefined && !DP.test(fields.dp)) return { kind: 'malformed', why: `dp:${fields.dp} is not a datapath layer` };
  if (actions === '') return { kind: 'malformed', why: 'actions: is empty' };
  const tree = actionTree(actions);
  if (tree === undefined) return { kind: 'malformed', why: 'actions: has an empty action (two commas in a row?)' };

  const flow: DpFlow = {
    ...(ufid !== undefined && { ufid }),
    match,
    ...(match.in_port !== undefined && { inPort: match.in_port }),
    packets: Number(fields.packets),
    bytes: Number(fields.bytes),
    used,
    ...(fields.flags !== undefined && { flags: fields.flags }),
    ...(offloaded !== undefined && { offloaded }),
    ...(fields.dp !== undefined && { dp: fields.dp }),
    actions,
    ...(dpExtraInfo !== undefined && { dpExtraInfo }),
    outputs: outputsOf(tree),
    usesHash: hashMatched(match.dp_hash) || hasAction(tree, 'hash'),
  };
  return { kind: 'flow', flow };
}

/** Every line of a dump; malformed lines are kept aside with their number and the reason. */
export function parseDump(text: string): Dump {
  const flows: NumberedFlow[] = [];
  const malformed: Malformed[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, i) => {
    const parsed = parseFlowLine(raw);
    if (parsed.kind === 'flow') flows.push({ ...parsed.flow, line: i + 1 });
    else if (parsed.kind === 'malformed') malformed.push({ line: i + 1, text: raw.endsWith('\r') ? raw.slice(0, -1) : raw, why: parsed.why });
  });
  return { flows, malformed };
}

/**
 * The flow runs in the NIC: `offloaded:yes` on a layer other than ovs, which is OVS's own
 * `type=offloaded` rule; on a TC node that is the seed's `offloaded:yes, dp:tc`. A `not_in_hw`
 * TC flow (dp:tc, no offloaded:), a kernel `dp:ovs` flow and a DPDK `partial` flow run in software.
 */
export function inHardware(flow: DpFlow): boolean {
  return flow.offloaded === 'yes' && flow.dp !== undefined && flow.dp !== 'ovs';
}

/**
 * The dump says where each flow runs: with -m every flow carries `dp:`, without it none does
 * and every flow would look like software. An empty dump has nothing to tell apart.
 */
export function tellsHardware(dump: Dump): boolean {
  return dump.flows.length === 0 || dump.flows.some((f) => f.dp !== undefined);
}

/** The hash a flow depends on, in words, or undefined: `action hash(l4(0))`, `match dp_hash(0x1/0xf)`. */
export function hashUse(flow: DpFlow): string | undefined {
  if (!flow.usesHash) return undefined;
  const tree = actionTree(flow.actions) ?? [];
  const action = findAction(tree, 'hash');
  if (action) return `action hash(${action.args})`;
  return `match dp_hash(${flow.match.dp_hash ?? ''})`;
}

/** The flow's actions include `name(…)`, at any depth: `usesAction(f, 'ct')` for connection tracking. */
export function usesAction(flow: DpFlow, name: string): boolean {
  return hasAction(actionTree(flow.actions) ?? [], name);
}

/** A flow's port-independent identity for messages: its ufid, else its in_port. */
export function describeFlow(flow: DpFlow): string {
  return flow.ufid ? `ufid:${flow.ufid}` : `in_port(${flow.inPort ?? '?'})`;
}

function parseUsed(text: string): number | 'never' | undefined {
  if (text === 'never') return 'never';
  const m = USED.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** A dp_hash match constrains the hash unless its mask is zero: "0/0" is a wildcard, "0x1/0xf" and "0x1" are not. */
function hashMatched(dpHash: string | undefined): boolean {
  if (dpHash === undefined) return false;
  const m = MASKED.exec(dpHash);
  if (!m) return true; // no mask printed: an exact match
  return Number(m[2]) !== 0;
}

interface Action {
  name: string;
  /** The text inside the parentheses; undefined for a bare word (a port, `drop`). */
  args?: string;
  children: Action[];
}

/** Actions as a tree, descending into the actions that hold actions; undefined when one is empty. */
function actionTree(text: string): Action[] | undefined {
  const split = splitTopLevel(text);
  if ('why' in split) return undefined;
  const out: Action[] = [];
  for (const piece of split.pieces) {
    const token = piece.text.trim();
    if (token === '') return undefined;
    const m = ACTION.exec(token);
    if (!m) {
      out.push({ name: token, children: [] });
      continue;
    }
    const [, name = '', args = ''] = m;
    const children = NESTED_ACTIONS.has(name) ? (nestedActions(name, args) ?? []) : [];
    out.push({ name, args, children });
  }
  return out;
}

/** `check_pkt_len(size=200,gt(4),le(5))` and `sample(sample=50.0%,actions(2))` mix parameters and actions. */
function nestedActions(name: string, args: string): Action[] | undefined {
  if (name === 'check_pkt_len' || name === 'sample') {
    return (actionTree(args) ?? []).filter((a) => a.args !== undefined && NESTED_ACTIONS.has(a.name));
  }
  return actionTree(args);
}

function outputsOf(actions: Action[]): string[] {
  const out: string[] = [];
  for (const a of actions) {
    if (a.args === undefined) {
      if (!BARE_ACTIONS.has(a.name) && PORT.test(a.name)) out.push(a.name);
    } else {
      out.push(...outputsOf(a.children));
    }
  }
  return out;
}

function findAction(actions: Action[], name: string): Action | undefined {
  for (const a of actions) {
    if (a.name === name && a.args !== undefined) return a;
    const inner = findAction(a.children, name);
    if (inner) return inner;
  }
  return undefined;
}

function hasAction(actions: Action[], name: string): boolean {
  return findAction(actions, name) !== undefined;
}
