/** `kube-ovn-offload flows`: the built bundle run as a process, on saved dumps and on a fake ovs-appctl. */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlowsReport } from '../../src/cli/flows.js';
import { StateStore, type Attachment } from '../../src/plugin/state.js';
import { cli } from '../support/cli.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/flows/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);

const NGINX = '5b45c61b307e0a9f8c7d6e5f4a3b2c1d5b45c61b307e0a9f8c7d6e5f4a3b2c1d';
const BACKEND = '9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0';
const zero = { flows: 0, packets: 0, bytes: 0 };

function attachment(deviceID: string, vfIndex: number, containerId: string, name: string): Attachment {
  return {
    version: 1,
    network: 'kube-ovn',
    containerId,
    ifname: 'eth0',
    netns: `/var/run/netns/cni-${vfIndex}`,
    pod: { name, namespace: 'default' },
    deviceID,
    pf: '0000:42:00.0',
    uplink: 'enp66s0f0np0',
    vfIndex,
    // The name at ADD time; the daemon renames it to <cid[:12]>_h afterwards.
    representor: { original: `enp66s0f0r${vfIndex}`, host: `enp66s0f0r${vfIndex}` },
    result: { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', pciID: deviceID }] },
    createdAt: '2026-06-28T10:00:00.000Z',
  };
}

let dir = '';
let stateDir = '';
let fakeBin = '';

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kovo-flows-'));
  stateDir = join(dir, 'state');
  fakeBin = join(dir, 'bin');
  mkdirSync(fakeBin);
  const store = new StateStore(stateDir);
  await store.put(attachment('0000:42:00.2', 0, NGINX, 'nginx'));
  await store.put(attachment('0000:42:00.3', 1, BACKEND, 'backend'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The bundle as an operator runs it: no CNI_COMMAND, fakes first on PATH. */
function flows(args: string[], env: Record<string, string> = {}) {
  return cli(['flows', ...args], { PATH: `${fakeBin}:/usr/bin:/bin`, KUBE_OVN_OFFLOAD_STATE_DIR: stateDir, ...env });
}

async function report(args: string[], env?: Record<string, string>): Promise<FlowsReport> {
  const out = await flows([...args, '--json'], env);
  expect(out.stderr).toBe('');
  expect(out.exitCode).toBe(0);
  return FlowsReport.parse(JSON.parse(out.stdout));
}

function fakeOvsAppctl(script: string): void {
  const file = join(fakeBin, 'ovs-appctl');
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
}

/** Each row's cells sit under their header: numbers end where the header ends, text starts where it starts. */
function expectAligned(table: string[]): void {
  const [header, ...rows] = table as [string, ...string[]];
  for (const name of ['HW FLOWS', 'HW PACKETS', 'HW BYTES', 'SW FLOWS', 'SW PACKETS', 'SW BYTES']) {
    const end = header.indexOf(name) + name.length;
    for (const row of rows) expect(`${row.slice(end - 1, end + 1)}|${row}`).toMatch(/^\d( |$)/);
  }
  for (const name of ['POD', 'STATE']) {
    const start = header.indexOf(name);
    for (const row of rows) expect(`${row.slice(start - 2, start + 1)}|${row}`).toMatch(/^ {2}\S/);
  }
}

describe('flows --input', () => {
  it('reads the seed sample: both representors in hardware, pods named from the state', async () => {
    const r = await report(['--input', fixture('seed.txt')]);
    expect(r).toMatchObject({ source: `file:${fixture('seed.txt')}`, all: false, hashFlows: [], malformed: [], warnings: [] });
    expect(r.totals).toEqual({ hardware: { flows: 2, packets: 83328198, bytes: 116006996403 }, software: zero });
    expect(r.representors).toEqual([
      { port: '9f8e7d6c5b4a_h', pod: { namespace: 'default', name: 'backend' }, containerId: BACKEND, deviceID: '0000:42:00.3', hardware: zero, software: zero, state: 'none', warn: false },
      { port: '5b45c61b307e_h', pod: { namespace: 'default', name: 'nginx' }, containerId: NGINX, deviceID: '0000:42:00.2', hardware: { flows: 1, packets: 941539, bytes: 62142230 }, software: zero, state: 'hardware', warn: false },
      { port: '54235e5753b8_h', pod: null, hardware: { flows: 1, packets: 82386659, bytes: 115944854173 }, software: zero, state: 'hardware', warn: false },
    ]);
    expect(r.otherPorts).toEqual([]);
    expect(r.notes).toEqual([expect.stringContaining('--all not given and the file holds only offloaded flows')]);
  });

  it('with --all, calls a pod whose flows all run in software a WARN, with the likely causes', async () => {
    const r = await report(['--input', fixture('all.txt'), '--all']);
    expect(r.totals).toEqual({ hardware: { flows: 4, packets: 83336098, bytes: 116008023403 }, software: { flows: 6, packets: 5349, bytes: 7356594 } });
    expect(r.representors).toEqual([
      expect.objectContaining({ port: '9f8e7d6c5b4a_h', pod: { namespace: 'default', name: 'backend' }, hardware: zero, software: { flows: 3, packets: 5300, bytes: 7353352 }, state: 'software', warn: true }),
      expect.objectContaining({ port: '5b45c61b307e_h', pod: { namespace: 'default', name: 'nginx' }, hardware: { flows: 2, packets: 945439, bytes: 62649230 }, software: { flows: 2, packets: 12, bytes: 504 }, state: 'mixed', warn: false }),
      { port: '54235e5753b8_h', pod: null, hardware: { flows: 1, packets: 82386659, bytes: 115944854173 }, software: { flows: 1, packets: 37, bytes: 2738 }, state: 'mixed', warn: false },
    ]);
    expect(r.otherPorts).toEqual([
      { port: 'genev_sys_6081', pod: null, hardware: { flows: 1, packets: 4000, bytes: 520000 }, software: zero, state: 'hardware', warn: false },
    ]);
    expect(r.hashFlows).toEqual([
      { line: 7, ufid: '1a2b3c4d-0005-4e5f-8a9b-0c1d2e3f4a05', port: '9f8e7d6c5b4a_h', pod: { namespace: 'default', name: 'backend' }, uses: 'action hash(l4(0))', packets: 120, bytes: 8880, inHardware: false },
      { line: 8, ufid: '1a2b3c4d-0006-4e5f-8a9b-0c1d2e3f4a06', port: '9f8e7d6c5b4a_h', pod: { namespace: 'default', name: 'backend' }, uses: 'match dp_hash(0x1/0xf)', packets: 60, bytes: 4440, inHardware: false },
    ]);
    expect(r.warnings).toHaveLength(3);
    expect(r.warnings[0]).toMatch(/^pod default\/backend \(port 9f8e7d6c5b4a_h\): 3 flow\(s\), 5300 packets in software and none in hardware/);
    for (const cause of ['hw-tc-offload', 'other_config:hw-offload', 'tc-policy', 'ENABLE_LB=false', 'connection tracking', '`kube-ovn-offload doctor`']) {
      expect(r.warnings[0]).toContain(cause);
    }
    expect(r.warnings[1]).toMatch(/^line 7 ufid:1a2b3c4d-0005-\S+ on pod default\/backend \(port 9f8e7d6c5b4a_h\): action hash\(l4\(0\)\) is OVN's load balancer .*ENABLE_LB=false/);
    expect(r.warnings[2]).toMatch(/^line 8 .*match dp_hash\(0x1\/0xf\) is OVN's load balancer/);
    expect(r.malformed).toEqual([]);
    expect(r.notes).toEqual([]);
  });

  it('prints an aligned table, the WARN with its causes, and no colour when stdout is not a terminal', async () => {
    const out = await flows(['--input', fixture('all.txt'), '--all']);
    expect(out).toMatchObject({ exitCode: 0, stderr: '' });
    expect(out.stdout).not.toContain('\x1b[');
    const lines = out.stdout.split('\n');
    expect(lines[0]).toBe(`Flows from file:${fixture('all.txt')}: 10 flow(s), 4 in hardware, 6 in software`);
    const start = lines.findIndex((l) => l.startsWith('PORT '));
    const table = lines.slice(start, lines.indexOf('', start));
    expect(table.map((l) => l.split(/\s{2,}/))).toEqual([
      ['PORT', 'POD', 'HW FLOWS', 'HW PACKETS', 'HW BYTES', 'SW FLOWS', 'SW PACKETS', 'SW BYTES', 'STATE'],
      ['9f8e7d6c5b4a_h', 'default/backend', '0', '0', '0', '3', '5300', '7353352', 'software WARN'],
      ['5b45c61b307e_h', 'default/nginx', '2', '945439', '62649230', '2', '12', '504', 'mixed'],
      ['54235e5753b8_h', '-', '1', '82386659', '115944854173', '1', '37', '2738', 'mixed'],
      ['genev_sys_6081', '(not a pod)', '1', '4000', '520000', '0', '0', '0', 'hardware'],
    ]);
    expectAligned(table);
    expect(out.stdout).toContain('WARN pod default/backend (port 9f8e7d6c5b4a_h): 3 flow(s), 5300 packets in software and none in hardware');
    expect(out.stdout).toMatch(/likely causes:\n\s+- hw-tc-offload is off on the uplink/);
    expect(out.stdout).toContain('check: kube-ovn-offload doctor');
    expect(out.stdout).toMatch(/WARN line 7 \S+ on pod default\/backend \(port 9f8e7d6c5b4a_h\): action hash\(l4\(0\)\) is OVN's load balancer/);
    expect(out.stdout).not.toContain('--all not given');
  });

  it('without --all, says that pods whose traffic runs in software cannot be judged', async () => {
    const out = await flows(['--input', fixture('seed.txt')]);
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toMatch(/^note: --all not given and the file holds only offloaded flows/m);
    expect(out.stdout).not.toContain('WARN');
  });

  it('without --all, still judges a file that holds software flows, and says why', async () => {
    const r = await report(['--input', fixture('all.txt')]);
    expect(r.representors.filter((p) => p.warn).map((p) => p.port)).toEqual(['9f8e7d6c5b4a_h']);
    expect(r.notes).toEqual([expect.stringContaining('--all not given, but the file holds software flows too')]);
  });

  it('reports malformed lines by number and reason, skips them, and exits 0', async () => {
    const r = await report(['--input', fixture('malformed.txt')]);
    expect(r.malformed.map((m) => [m.line, m.why])).toEqual([
      [2, 'unbalanced parentheses: 1 left open (line cut short?)'],
      [4, 'no packets: field'],
      [5, expect.stringContaining('is neither a key attribute nor a field')],
      [6, 'no actions: field (line cut short?)'],
      [7, 'packets:lots is not a count'],
    ]);
    expect(r.malformed[2]!.text).toBe('%%% not a flow: datapath dump garbage %%%');
    expect(r.representors.filter((p) => p.state === 'hardware').map((p) => p.port)).toEqual(['5b45c61b307e_h', '54235e5753b8_h']);

    const out = await flows(['--input', fixture('malformed.txt')]);
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toContain('note: line 2 skipped, malformed: unbalanced parentheses: 1 left open (line cut short?)');
    expect(out.stdout).toContain('note: line 7 skipped, malformed: packets:lots is not a count');
  });

  it('skips userspace headers and counts partial offload as software', async () => {
    const r = await report(['--input', fixture('userspace.txt'), '--all']);
    expect(r.malformed).toEqual([]);
    expect(r.representors.map((p) => [p.port, p.state, p.warn, p.software.packets, p.hardware.packets])).toEqual([
      ['9f8e7d6c5b4a_h', 'software', true, 2048, 0],
      ['5b45c61b307e_h', 'none', false, 0, 0],
      ['54235e5753b8_h', 'hardware', false, 0, 1024],
    ]);
    expect(r.otherPorts).toEqual([expect.objectContaining({ port: 'dpdk0', state: 'software', warn: false })]);
  });

  it('takes the state from --state-dir over the environment, and notes an unreadable record', async () => {
    const other = join(dir, 'other-state');
    mkdirSync(join(other, 'vf'), { recursive: true });
    writeFileSync(join(other, 'vf', '0000:42:00.4.json'), '{not json');
    const r = await report(['--input', fixture('seed.txt'), '--state-dir', other]);
    expect(r.representors.map((p) => [p.port, p.pod])).toEqual([['54235e5753b8_h', null], ['5b45c61b307e_h', null]]);
    expect(r.notes).toContainEqual(expect.stringMatching(/^state for VF 0000:42:00.4 is unreadable \(state file .* is corrupt\); its pod is not named$/));
  });

  it('exits 1 when the file cannot be read', async () => {
    const missing = join(dir, 'nope.txt');
    const out = await flows(['--input', missing]);
    expect(out).toEqual({ exitCode: 1, stdout: '', stderr: `kube-ovn-offload flows: cannot read --input ${missing}: ENOENT\n` });
  });

  it.each([
    ['an unknown flag', ['--bogus'], /Unknown option '--bogus'/],
    ['--input without a file', ['--input'], /--input/],
    ['an empty --input', ['--input', ''], /--input needs a file name/],
    ['a positional argument', ['extra'], /positional argument/],
  ])('exits 2 with the help for %s', async (_, args, message) => {
    const out = await flows(args);
    expect(out.exitCode).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(message);
    expect(out.stderr).toContain('Usage: kube-ovn-offload flows [--input FILE] [--all] [--json] [--state-dir DIR]');
  });

  it('lists every flag in --help', async () => {
    const out = await flows(['--help']);
    expect(out.exitCode).toBe(0);
    for (const flag of ['--input FILE', '--all', '--json', '--state-dir DIR', '--help']) expect(out.stdout).toContain(flag);
  });
});

describe('flows from ovs-appctl', () => {
  /** Answers like ovs-vswitchd would: the offloaded flows for type=offloaded, every flow otherwise. */
  function fakeDump(): string {
    const log = join(dir, 'ovs-appctl.args');
    fakeOvsAppctl(`echo "$*" >> '${log}'\ncase " $* " in\n  *" type=offloaded "*) cat '${fixture('seed.txt')}' ;;\n  *) cat '${fixture('all.txt')}' ;;\nesac`);
    return log;
  }

  it('dumps the offloaded flows by default', async () => {
    const log = fakeDump();
    const r = await report([]);
    expect(readFileSync(log, 'utf8')).toBe('dpctl/dump-flows -m type=offloaded\n');
    expect(r.source).toBe('ovs-appctl dpctl/dump-flows -m type=offloaded');
    expect(r.representors.map((p) => [p.port, p.state])).toEqual([['9f8e7d6c5b4a_h', 'none'], ['5b45c61b307e_h', 'hardware'], ['54235e5753b8_h', 'hardware']]);
    expect(r.notes).toEqual([expect.stringContaining('--all not given: only offloaded flows were dumped (type=offloaded)')]);
  });

  it('dumps every flow with --all, and finds the pod in software', async () => {
    const log = fakeDump();
    const out = await flows(['--all']);
    expect(readFileSync(log, 'utf8')).toBe('dpctl/dump-flows -m\n');
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toMatch(/^Flows from ovs-appctl dpctl\/dump-flows -m: 10 flow\(s\)/);
    expect(out.stdout).toContain('WARN pod default/backend (port 9f8e7d6c5b4a_h)');
  });

  it('exits 1 with ovs-appctl\'s own error when ovs-vswitchd is not running', async () => {
    fakeOvsAppctl([
      `echo '2026-06-28T10:00:00Z|00001|daemon_unix|WARN|/var/run/openvswitch/ovs-vswitchd.pid: open: No such file or directory' >&2`,
      `echo 'ovs-appctl: cannot read pidfile "/var/run/openvswitch/ovs-vswitchd.pid" (No such file or directory)' >&2`,
      'exit 1',
    ].join('\n'));
    const out = await flows([]);
    expect(out.exitCode).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain('kube-ovn-offload flows: `ovs-appctl dpctl/dump-flows -m type=offloaded` exited 1:');
    expect(out.stderr).toContain('ovs-appctl: cannot read pidfile "/var/run/openvswitch/ovs-vswitchd.pid" (No such file or directory)');
  });

  it('exits 1 saying where to run it when ovs-appctl is not installed', async () => {
    const out = await flows([], { PATH: fakeBin }); // empty: not even the host's /usr/bin/ovs-appctl
    expect(out).toEqual({ exitCode: 1, stdout: '', stderr: 'kube-ovn-offload flows: ovs-appctl is not installed; run this in the ovs-ovn container, or pass --input\n' });
  });
});
