/** Parsing `ovs-appctl dpctl/dump-flows [-m]` lines (docs/upstream.md). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hashUse, inHardware, parseDump, parseFlowLine, splitTopLevel, tellsHardware, usesAction, type DpFlow } from '../../../src/node/dpflows.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/flows/${name}`, import.meta.url), 'utf8');
const [SEED1, SEED2] = fixture('seed.txt').split('\n') as [string, string];

/** The key of a -m line, for building variants: the seed's, with in_port and dp_hash replaceable. */
const key = (inPort = '5b45c61b307e_h', dpHash = '0/0') =>
  `skb_priority(0/0),skb_mark(0/0),ct_state(0/0x23),ct_zone(0/0),ct_mark(0/0),ct_label(0/0x1),recirc_id(0),dp_hash(${dpHash}),in_port(${inPort}),packet_type(ns=0/0,id=0/0),eth(src=00:00:00:c5:6d:4e,dst=00:00:00:e7:16:ce),eth_type(0x0800),ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no)`;
const line = (rest: string, k = key()) => `ufid:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9, ${k}, ${rest}`;

function flow(text: string): DpFlow {
  const parsed = parseFlowLine(text);
  if (parsed.kind !== 'flow') throw new Error(`expected a flow, got ${JSON.stringify(parsed)}`);
  return parsed.flow;
}

describe('parseFlowLine', () => {
  it('reads the seed\'s first line exactly', () => {
    expect(flow(SEED1)).toEqual({
      ufid: '91cc45de-e7e9-4935-8f82-1890430b0f66',
      match: {
        skb_priority: '0/0', skb_mark: '0/0', ct_state: '0/0x23', ct_zone: '0/0', ct_mark: '0/0', ct_label: '0/0x1', recirc_id: '0', dp_hash: '0/0',
        in_port: '5b45c61b307e_h', packet_type: 'ns=0/0,id=0/0', eth: 'src=00:00:00:c5:6d:4e,dst=00:00:00:e7:16:ce', eth_type: '0x0800',
        ipv4: 'src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no',
      },
      inPort: '5b45c61b307e_h',
      packets: 941539,
      bytes: 62142230,
      used: 0.26,
      offloaded: 'yes',
      dp: 'tc',
      actions: '54235e5753b8_h',
      outputs: ['54235e5753b8_h'],
      usesHash: false,
    });
  });

  it('reads the seed\'s second line exactly, with a byte count above 2^32', () => {
    expect(flow(SEED2)).toMatchObject({
      ufid: 'e00768d7-e652-4d79-8182-3291d852b791',
      inPort: '54235e5753b8_h',
      packets: 82386659,
      bytes: 115944854173,
      used: 0.26,
      offloaded: 'yes',
      dp: 'tc',
      actions: '5b45c61b307e_h',
      outputs: ['5b45c61b307e_h'],
      usesHash: false,
    });
  });

  it.each<[string, string, Partial<DpFlow>]>([
    ['splits the key at top-level commas only', SEED1, { match: expect.objectContaining({ ipv4: 'src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no', packet_type: 'ns=0/0,id=0/0' }) }],
    ['keeps nested parentheses and braces inside one attribute',
      line('packets:1, bytes:60, used:0.100s, offloaded:yes, dp:tc, actions:pf0vf0', 'tunnel(tun_id=0x5,src=192.168.1.11,geneve({class=0x102,type=0x80,len=4,0x10002/0x7fffffff}),flags(+key)),in_port(genev_sys_6081),eth_type(0x0800)'),
      { match: { tunnel: 'tun_id=0x5,src=192.168.1.11,geneve({class=0x102,type=0x80,len=4,0x10002/0x7fffffff}),flags(+key)', in_port: 'genev_sys_6081', eth_type: '0x0800' }, inPort: 'genev_sys_6081' }],
    ['reads a line without -m: no ufid, numbered ports, no offloaded: or dp:',
      'recirc_id(0),in_port(2),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x0800),ipv4(frag=no), packets:10, bytes:980, used:0.260s, actions:3',
      { inPort: '2', packets: 10, bytes: 980, outputs: ['3'], match: expect.objectContaining({ ipv4: 'frag=no' }) }],
    ['reads used:never', line('packets:0, bytes:0, used:never, dp:ovs, actions:drop'), { used: 'never', packets: 0, outputs: [] }],
    ['reads TCP flags, dot included', line('packets:5120, bytes:7340032, used:0.040s, flags:SFP., dp:ovs, actions:54235e5753b8_h'), { flags: 'SFP.', dp: 'ovs', used: 0.04 }],
    ['reads offloaded:partial and keeps dp-extra-info out of the actions',
      line('packets:2048, bytes:3014656, used:0.012s, flags:P., offloaded:partial, dp:ovs, actions:dpdk0,vhu1, dp-extra-info:miniflow_bits(5,1)'),
      { offloaded: 'partial', dp: 'ovs', actions: 'dpdk0,vhu1', outputs: ['dpdk0', 'vhu1'], dpExtraInfo: 'miniflow_bits(5,1)' }],
    ['lists outputs among other actions, not inside set()',
      line('packets:3900, bytes:507000, used:0.110s, offloaded:yes, dp:tc, actions:set(tunnel(tun_id=0x5,dst=192.168.1.11,ttl=64,tp_dst=6081,flags(df|csum|key))),genev_sys_6081'),
      { outputs: ['genev_sys_6081'] }],
    ['finds outputs inside clone() and check_pkt_len()',
      line('packets:1, bytes:1500, used:0.010s, dp:ovs, actions:clone(ct_clear,3),check_pkt_len(size=1514,gt(4),le(5)),drop'),
      { outputs: ['3', '4', '5'] }],
    ['takes ct() and recirc() for actions, not outputs', line('packets:9, bytes:900, used:0.300s, dp:ovs, actions:ct(commit,zone=5,nat(src=10.16.0.1)),recirc(0x2)'), { outputs: [], usesHash: false }],
    ['treats a hash action as OVN\'s load balancer', line('packets:120, bytes:8880, used:0.480s, flags:S, dp:ovs, actions:hash(l4(0)),recirc(0x1)'), { usesHash: true, outputs: [] }],
    ['treats a dp_hash match with a non-zero mask as OVN\'s load balancer', line('packets:60, bytes:4440, used:0.480s, dp:ovs, actions:5b45c61b307e_h', key('9f8e7d6c5b4a_h', '0x1/0xf')), { usesHash: true }],
    ['treats an unmasked dp_hash match (without -m) as exact, so using the hash', 'recirc_id(0x1),dp_hash(0x3),in_port(4), packets:1, bytes:60, used:0.1s, actions:2', { usesHash: true }],
    ['ignores a dp_hash wildcard (0/0)', SEED1, { usesHash: false }],
    ['accepts CRLF line ends', `${SEED1}\r`, { actions: '54235e5753b8_h' }],
    ['takes an attribute named like an Object property for just an attribute', line('packets:1, bytes:1, used:0.1s, actions:1', 'constructor(1),in_port(1)'), { match: { constructor: '1', in_port: '1' } }],
  ])('%s', (_, text, expected) => {
    expect(flow(text)).toMatchObject(expected);
  });

  it('reads a not_in_hw TC flow: dp:tc and no offloaded:', () => {
    const f = flow(line('packets:37, bytes:2738, used:1.500s, dp:tc, actions:54235e5753b8_h'));
    expect(f).toMatchObject({ dp: 'tc', packets: 37, bytes: 2738, used: 1.5 });
    expect(f).not.toHaveProperty('offloaded');
  });

  it.each([
    ['a blank line', ''],
    ['the main thread header of the userspace datapath', 'flow-dump from the main thread:'],
    ['a pmd header of the userspace datapath', 'flow-dump from pmd on cpu core: 3'],
  ])('skips %s without calling it malformed', (_, text) => {
    expect(parseFlowLine(text)).toEqual({ kind: 'skip' });
  });

  it.each([
    ['a line cut short inside the key', SEED1.slice(0, 300), /unbalanced parentheses: 1 left open/],
    ['a line cut short after the stats', SEED1.slice(0, SEED1.indexOf('offloaded:')), /no actions: field/],
    ['a closing parenthesis too many', line('packets:1, bytes:1, used:0.1s, actions:1', 'in_port(1))'), /"\)" at column \d+ closes nothing/],
    ['no packets:', SEED1.replace(' packets:941539,', ''), /^no packets: field$/],
    ['no bytes:', SEED1.replace(' bytes:62142230,', ''), /^no bytes: field$/],
    ['no used:', SEED1.replace(' used:0.260s,', ''), /^no used: field$/],
    ['packets that are not a count', SEED1.replace('packets:941539', 'packets:lots'), /packets:lots is not a count/],
    ['a negative byte count', SEED1.replace('bytes:62142230', 'bytes:-1'), /bytes:-1 is not a count/],
    ['used: without the seconds unit', SEED1.replace('used:0.260s', 'used:0.260'), /used:0.260 is neither seconds/],
    ['an unknown offloaded: value', SEED1.replace('offloaded:yes', 'offloaded:maybe'), /offloaded:maybe is neither "yes" nor "partial"/],
    ['flags that are not TCP flags', line('packets:1, bytes:1, used:0.1s, flags:XYZ, dp:ovs, actions:1'), /flags:XYZ are not TCP flag letters/],
    ['an unknown field', SEED1.replace('dp:tc', 'colour:blue'), /unknown field "colour:"/],
    ['a field given twice', SEED1.replace('dp:tc', 'packets:1'), /field packets: appears twice/],
    ['a key attribute given twice', line('packets:1, bytes:1, used:0.1s, actions:1', 'in_port(1),in_port(2)'), /in_port\(…\) appears twice/],
    ['a key attribute after the stats', SEED1.replace(', actions:', ', in_port(3), actions:'), /key attribute in_port\(…\) after the statistics/],
    ['empty actions', SEED1.replace('actions:54235e5753b8_h', 'actions:'), /actions: is empty/],
    ['a ufid that is not a UUID', SEED1.replace('91cc45de-e7e9-4935-8f82-1890430b0f66', 'not-a-uuid'), /ufid: is not a UUID/],
    ['garbage', '%%% not a flow: datapath dump garbage %%%', /is neither a key attribute nor a field/],
    ['a log line', '2026-06-28T10:00:00.000Z|00001|dpctl|WARN|something', /is neither a key attribute nor a field/],
  ])('calls %s malformed, saying why', (_, text, why) => {
    const parsed = parseFlowLine(text);
    expect(parsed.kind).toBe('malformed');
    expect(parsed.kind === 'malformed' && parsed.why).toMatch(why);
  });
});

describe('splitTopLevel', () => {
  it('splits at commas outside parentheses and keeps each piece\'s offset', () => {
    expect(splitTopLevel('a(1,2),b(c(3,4)),d')).toEqual({ pieces: [{ at: 0, text: 'a(1,2)' }, { at: 7, text: 'b(c(3,4))' }, { at: 17, text: 'd' }] });
  });
});

describe('parseDump', () => {
  it('reads the seed sample as two offloaded flows', () => {
    const dump = parseDump(fixture('seed.txt'));
    expect(dump.malformed).toEqual([]);
    expect(dump.flows.map((f) => [f.line, f.inPort, f.packets, inHardware(f)])).toEqual([
      [1, '5b45c61b307e_h', 941539, true],
      [2, '54235e5753b8_h', 82386659, true],
    ]);
  });

  it('reports malformed lines with their 1-based number and goes on', () => {
    const dump = parseDump(fixture('malformed.txt'));
    expect(dump.flows.map((f) => f.line)).toEqual([1, 8]);
    expect(dump.malformed.map((m) => [m.line, m.why])).toEqual([
      [2, 'unbalanced parentheses: 1 left open (line cut short?)'],
      [4, 'no packets: field'],
      [5, expect.stringContaining('is neither a key attribute nor a field')],
      [6, 'no actions: field (line cut short?)'],
      [7, 'packets:lots is not a count'],
    ]);
    expect(dump.malformed[3]!.text).toMatch(/used:0\.2$/);
  });

  it('skips the userspace datapath\'s headers', () => {
    const dump = parseDump(fixture('userspace.txt'));
    expect(dump.malformed).toEqual([]);
    expect(dump.flows.map((f) => [f.line, f.inPort])).toEqual([[2, 'dpdk0'], [4, '9f8e7d6c5b4a_h'], [5, '54235e5753b8_h']]);
  });

  it('reads the mixed --all fixture without a malformed line', () => {
    const dump = parseDump(fixture('all.txt'));
    expect(dump.malformed).toEqual([]);
    expect(dump.flows).toHaveLength(10);
    expect(dump.flows.filter((f) => f.usesHash).map((f) => f.line)).toEqual([7, 8]);
  });

  it('returns nothing for empty output (no flow matched)', () => {
    expect(parseDump('')).toEqual({ flows: [], malformed: [] });
  });
});

describe('inHardware', () => {
  it.each<[string, Partial<DpFlow>, boolean]>([
    ['offloaded:yes, dp:tc', { offloaded: 'yes', dp: 'tc' }, true],
    ['offloaded:yes, dp:dpdk (full rte_flow offload)', { offloaded: 'yes', dp: 'dpdk' }, true],
    ['a not_in_hw TC flow', { dp: 'tc' }, false],
    ['a kernel datapath flow', { dp: 'ovs' }, false],
    ['a partially offloaded DPDK flow', { offloaded: 'partial', dp: 'ovs' }, false],
    ['a flow dumped without -m', {}, false],
  ])('%s → %s', (_, fields, expected) => {
    expect(inHardware({ ...flow(line('packets:1, bytes:1, used:0.1s, actions:1')), ...fields })).toBe(expected);
  });
});

describe('tellsHardware', () => {
  it.each<[string, string, boolean]>([
    ['a dump with -m', fixture('seed.txt'), true],
    ['a full dump with -m, software flows too', fixture('all.txt'), true],
    ['a dump without -m (no dp:, no offloaded:)', 'in_port(5b45c61b307e_h),eth_type(0x0800), packets:3, bytes:180, used:0.5s, actions:54235e5753b8_h\n', false],
    ['an empty dump', '', true],
  ])('%s → %s', (_, text, expected) => {
    expect(tellsHardware(parseDump(text))).toBe(expected);
  });
});

describe('hashUse and usesAction', () => {
  it('names the hash action, then the dp_hash match', () => {
    expect(hashUse(flow(line('packets:1, bytes:1, used:0.1s, actions:hash(l4(0)),recirc(0x1)')))).toBe('action hash(l4(0))');
    expect(hashUse(flow(line('packets:1, bytes:1, used:0.1s, actions:1', key('1', '0x1/0xf'))))).toBe('match dp_hash(0x1/0xf)');
    expect(hashUse(flow(SEED1))).toBeUndefined();
  });

  it('finds connection tracking at any depth', () => {
    expect(usesAction(flow(line('packets:1, bytes:1, used:0.1s, actions:clone(ct(zone=5),recirc(0x3))')), 'ct')).toBe(true);
    expect(usesAction(flow(SEED1), 'ct')).toBe(false);
  });
});
