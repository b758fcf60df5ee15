/**
 * `kube-ovn-offload status` on the simulated node: records written as the plugin's guard ADD
 * writes them, the representors renamed and the ports added to a real ovsdb-server as kube-ovn's
 * daemon does, and the dump from test/fixtures/flows (node.txt is seed.txt followed by all.txt's
 * three software flows of 9f8e7d6c5b4a_h: one pod in hardware, one in software).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { StatusReport } from '../../src/cli/status.js';
import { representorHostName } from '../../src/kubeovn/naming.js';
import { StateStore } from '../../src/plugin/state.js';
import { cli } from '../support/cli.js';
import { useCliNode, type CliNode } from '../support/cli-node.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/flows/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);

/** Container IDs whose first 12 characters are the representor ports of the flow fixtures. */
const cid = (prefix: string) => prefix + '0'.repeat(64 - prefix.length);
const NGINX = cid('5b45c61b307e'); // hardware in seed.txt; 12 ARP packets in software in all.txt
const BACKEND = cid('9f8e7d6c5b4a'); // no flow in seed.txt; only software flows in all.txt and node.txt
const WEB = cid('c0ffee0a1b2c'); // in no dump
const CACHE = cid('ab12cd34ef56'); // in no dump

type PortState = 'bound' | 'unbound' | 'no-iface-id' | 'missing' | { bridge: string };

/**
 * A pod attached as in guard mode: the record our ADD writes (representor named as kube-ovn
 * will rename it), then what kube-ovn's daemon does: the representor renamed, the VF moved
 * into the pod, the port added to br-int with its external_ids, ovn-installed once bound.
 */
async function attach(n: CliNode, vfIndex: number, containerId: string, name: string, port: PortState = 'bound'): Promise<string> {
  const vf = n.node.pf().vfs[vfIndex]!;
  const host = representorHostName(containerId, 'eth0');
  const netns = `/var/run/netns/cni-${containerId.slice(0, 8)}`;
  await new StateStore(n.stateDir).put({
    version: 1, network: 'default', containerId, ifname: 'eth0', mode: 'guard', netns, pod: { name, namespace: 'default' },
    deviceID: vf.pci, pf: '0000:42:00.0', uplink: 'enp66s0f0np0', vfIndex, vfNetdev: vf.netdev,
    representor: { original: vf.rep, host }, result: {}, createdAt: '2026-06-28T10:00:00.000Z',
  });
  n.node.renameNetdev(vf.rep!, host);
  n.node.vfLeftHost(vf.pci, { netns, name: 'eth0' });
  if (port === 'missing') return host;
  const bridge = typeof port === 'object' ? port.bridge : 'br-int';
  if (bridge !== 'br-int') await n.ovs!.vsctl('--may-exist', 'add-br', bridge);
  const ids = [`external_ids:iface-id=${name}.default`, 'external_ids:vendor=kube-ovn', `external_ids:pod_name=${name}`, 'external_ids:pod_namespace=default', `external_ids:pod_netns=${netns}`];
  if (port !== 'unbound' && port !== 'no-iface-id') ids.push('external_ids:ovn-installed=true');
  await n.ovs!.vsctl('add-port', bridge, host, '--', 'set', 'interface', host, ...(port === 'no-iface-id' ? ids.slice(1) : ids));
  return host;
}

/** The bundle as an operator runs it; `env` replaces the node's (PATH without /usr/bin: no ovs-appctl). */
function status(n: CliNode, args: string[], env: Record<string, string> = {}) {
  return cli(['status', ...args], { ...n.node.env(), KUBE_OVN_OFFLOAD_STATE_DIR: n.stateDir, ...env });
}

async function report(n: CliNode, args: string[], exitCode: number, env?: Record<string, string>): Promise<StatusReport> {
  const out = await status(n, [...args, '--json'], env);
  expect(out.stderr).toBe('');
  expect(out.exitCode).toBe(exitCode);
  return StatusReport.parse(JSON.parse(out.stdout));
}

const byPod = (r: StatusReport) => Object.fromEntries(r.pods.map((p) => [p.pod.name, p]));

/** An ovs-appctl that answers every dump with `file` and logs its arguments; on the node's PATH, before the host's. */
function fakeOvsAppctl(n: CliNode, file: string): string {
  const log = join(n.node.root, 'ovs-appctl.args');
  const bin = join(n.node.root, 'bin', 'ovs-appctl');
  writeFileSync(bin, `#!/bin/sh\necho "$*" >> '${log}'\ncat '${file}'\n`);
  chmodSync(bin, 0o755);
  return log;
}

const zero = { flows: 0, packets: 0, bytes: 0 };

describe('status', () => {
  const make = useCliNode();

  it('on the seed sample: a pod in hardware is offloaded, a pod without its port broken, an idle pod unknown; exit 1', async () => {
    const n = await make();
    await attach(n, 0, NGINX, 'nginx');
    await attach(n, 1, BACKEND, 'backend');
    await attach(n, 2, WEB, 'web', 'missing');
    const r = await report(n, ['--input', fixture('seed.txt')], 1);
    expect(r).toMatchObject({ stateDir: n.stateDir, ovsdb: n.ovs!.socket, flowsSource: `file:${fixture('seed.txt')}`, notes: [] });
    expect(r.summary).toEqual({ offloaded: 1, softwarePath: 0, broken: 1, unknown: 1 });
    const p = byPod(r);
    expect(p.nginx).toEqual({
      pod: { namespace: 'default', name: 'nginx' }, network: 'default', containerId: NGINX, ifname: 'eth0', mode: 'guard',
      vf: { pci: '0000:42:00.2', pf: '0000:42:00.0', index: 0, uplink: 'enp66s0f0np0' },
      representor: { original: 'enp66s0f0r0', now: '5b45c61b307e_h' },
      port: '5b45c61b307e_h',
      ovs: { bridge: 'br-int', ifaceId: 'nginx.default', ovnInstalled: true },
      flows: { hardware: { flows: 1, packets: 941539, bytes: 62142230 }, software: zero },
      checks: { vf: 'ok', representor: 'ok', port: 'ok', binding: 'ok', flows: 'ok' },
      verdict: 'offloaded',
      reason: 'its 1 flow(s) run in hardware (941539 packets, 62142230 bytes) and none of its traffic went through software',
    });
    expect(p.web).toMatchObject({
      port: 'c0ffee0a1b2c_h', ovs: null, flows: { hardware: zero, software: zero },
      checks: { vf: 'ok', representor: 'ok', port: 'fail', binding: 'skipped', flows: 'unknown' },
      verdict: 'broken',
      reason: "port c0ffee0a1b2c_h is not in OVS: kube-ovn's daemon has not added it, or something removed it",
      next: expect.stringContaining('ovs-vsctl list-ports br-int'),
    });
    expect(p.backend).toMatchObject({
      checks: { vf: 'ok', representor: 'ok', port: 'ok', binding: 'ok', flows: 'unknown' },
      verdict: 'unknown',
      reason: 'no datapath flows for port 9f8e7d6c5b4a_h now: no traffic in the last 10 s (OVS removes idle flows), so nothing shows where it runs',
    });
  });

  it('calls a pod whose flows run in software the software path, also when only some of them do', async () => {
    const n = await make();
    await attach(n, 0, NGINX, 'nginx');
    await attach(n, 1, BACKEND, 'backend');
    const log = fakeOvsAppctl(n, fixture('all.txt'));
    const r = await report(n, [], 1);
    expect(readFileSync(log, 'utf8')).toBe('dpctl/dump-flows -m\n'); // every flow, not type=offloaded
    expect(r.flowsSource).toBe('ovs-appctl dpctl/dump-flows -m');
    const p = byPod(r);
    expect(p.backend).toMatchObject({
      flows: { hardware: zero, software: { flows: 3, packets: 5300, bytes: 7353352 } },
      checks: { vf: 'ok', representor: 'ok', port: 'ok', binding: 'ok', flows: 'fail' },
      verdict: 'software path',
      reason: '3 flow(s) of port 9f8e7d6c5b4a_h carried 5300 packets (7353352 bytes) in software and none ran in hardware',
      next: expect.stringContaining('kube-ovn-offload flows --all'),
    });
    // all.txt's ARP flow of nginx ran in the kernel datapath (dp:ovs) beside its hardware flows.
    expect(p.nginx).toMatchObject({
      flows: { hardware: { flows: 2, packets: 945439, bytes: 62649230 }, software: { flows: 2, packets: 12, bytes: 504 } },
      verdict: 'software path',
      reason: '2 flow(s) of port 5b45c61b307e_h carried 12 packets (504 bytes) in software; 2 flow(s) with 945439 packets ran in hardware',
    });
  });

  it('calls a pod broken, naming why: not bound by ovn-controller, no iface-id, on another bridge, no representor', async () => {
    const n = await make();
    await attach(n, 0, NGINX, 'nginx', 'unbound');
    await attach(n, 1, BACKEND, 'backend', { bridge: 'br-ex' });
    await attach(n, 2, WEB, 'web', 'no-iface-id');
    await attach(n, 3, CACHE, 'cache');
    n.node.editVf('0000:42:00.5', (vf) => (vf.rep = undefined)); // its representor gone, as out of switchdev
    const p = byPod(await report(n, ['--input', fixture('seed.txt')], 1));
    expect(Object.fromEntries(Object.entries(p).map(([name, s]) => [name, [s.verdict, s.reason]]))).toEqual({
      backend: ['broken', 'port 9f8e7d6c5b4a_h is on bridge br-ex, not on br-int'],
      cache: ['broken', 'VF 0000:42:00.5 has no representor: is the eSwitch of PF 0000:42:00.0 still in switchdev mode?'],
      nginx: ['broken', 'ovn-installed is not set on port 5b45c61b307e_h: ovn-controller has not bound the port (iface-id nginx.default)'],
      web: ['broken', "port c0ffee0a1b2c_h has no external_ids:iface-id: ovn-controller cannot bind it to the pod's logical switch port"],
    });
    expect(p.nginx!.ovs).toEqual({ bridge: 'br-int', ifaceId: 'nginx.default', ovnInstalled: false });
    expect(p.cache!.representor).toEqual({ original: 'enp66s0f0r3', now: null });
    // nginx's flows are in hardware all the same: a broken set-up decides first.
    expect(p.nginx!.checks.flows).toBe('ok');
  });

  it('prints a block per pod with its verdict first, then the count of each verdict, without colour off a terminal', async () => {
    const n = await make();
    await attach(n, 0, NGINX, 'nginx');
    await attach(n, 1, BACKEND, 'backend');
    await attach(n, 2, WEB, 'web', 'missing');
    await attach(n, 3, CACHE, 'cache');
    fakeOvsAppctl(n, fixture('node.txt'));
    const out = await status(n, []);
    expect(out).toMatchObject({ exitCode: 1, stderr: '' });
    expect(out.stdout).not.toContain('\x1b[');
    // As an operator on the node sees it: the simulated node's root and state dir at their real places.
    const seen = out.stdout.replaceAll(n.stateDir, '/var/lib/cni/kube-ovn-offload').replaceAll(n.node.root, '');
    expect(seen).toBe(`Flows from ovs-appctl dpctl/dump-flows -m; OVSDB /run/openvswitch/db.sock; records in /var/lib/cni/kube-ovn-offload

default/backend  software path
  vf           0000:42:00.3, VF 1 of PF 0000:42:00.0 (uplink enp66s0f0np0), guard mode
  representor  9f8e7d6c5b4a_h
  port         9f8e7d6c5b4a_h on br-int, iface-id backend.default, ovn-installed
  flows        hardware 0 flows; software 3 flow(s), 5300 packets, 7353352 bytes
  why          3 flow(s) of port 9f8e7d6c5b4a_h carried 5300 packets (7353352 bytes) in software and none ran in hardware
  next         \`kube-ovn-offload flows --all\` shows the flows and the likely causes; \`kube-ovn-offload doctor\` checks the node

default/cache  unknown
  vf           0000:42:00.5, VF 3 of PF 0000:42:00.0 (uplink enp66s0f0np0), guard mode
  representor  ab12cd34ef56_h
  port         ab12cd34ef56_h on br-int, iface-id cache.default, ovn-installed
  flows        hardware 0 flows; software 0 flows
  why          no datapath flows for port ab12cd34ef56_h now: no traffic in the last 10 s (OVS removes idle flows), so nothing shows where it runs
  next         send traffic from the pod and run status again within 10 s

default/nginx  offloaded
  vf           0000:42:00.2, VF 0 of PF 0000:42:00.0 (uplink enp66s0f0np0), guard mode
  representor  5b45c61b307e_h
  port         5b45c61b307e_h on br-int, iface-id nginx.default, ovn-installed
  flows        hardware 1 flow(s), 941539 packets, 62142230 bytes; software 0 flows
  why          its 1 flow(s) run in hardware (941539 packets, 62142230 bytes) and none of its traffic went through software

default/web  broken
  vf           0000:42:00.4, VF 2 of PF 0000:42:00.0 (uplink enp66s0f0np0), guard mode
  representor  c0ffee0a1b2c_h
  port         c0ffee0a1b2c_h, not in OVS
  flows        hardware 0 flows; software 0 flows
  why          port c0ffee0a1b2c_h is not in OVS: kube-ovn's daemon has not added it, or something removed it
  next         the kube-ovn-cni pod's log on this node; \`ovs-vsctl list-ports br-int\`

4 pod(s): 1 offloaded, 1 software path, 1 broken, 1 unknown
`);
  });

  it('--pod shows that pod alone, and its exit status', async () => {
    const n = await make();
    await attach(n, 0, NGINX, 'nginx');
    await attach(n, 2, WEB, 'web', 'missing');
    const r = await report(n, ['--pod', 'default/nginx', '--input', fixture('seed.txt')], 0);
    expect(r.pods.map((p) => [p.pod.name, p.verdict])).toEqual([['nginx', 'offloaded']]);
    expect(r.summary).toEqual({ offloaded: 1, softwarePath: 0, broken: 0, unknown: 0 });
  });

  it('--pod of a pod without a VF here says so, with the pods on record, and exits 2', async () => {
    const n = await make();
    await attach(n, 0, NGINX, 'nginx');
    await attach(n, 2, WEB, 'web', 'missing');
    const out = await status(n, ['--pod', 'default/nope']);
    expect(out.exitCode).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(new RegExp(`^kube-ovn-offload status: pod default/nope has no VF on record in ${n.stateDir} \\(on record: default/nginx, default/web\\)\n`));
  });

  it('with no pod on record (in --state-dir, when given) says so, reads no flows, and exits 0', async () => {
    const n = await make();
    const log = fakeOvsAppctl(n, fixture('seed.txt'));
    const out = await status(n, []);
    expect(out).toEqual({ exitCode: 0, stderr: '', stdout: `No pod on record in ${n.stateDir}: no pod on this node got a VF through kube-ovn-offload.\n` });
    expect(await report(n, [], 0)).toEqual({
      stateDir: n.stateDir, ovsdb: n.ovs!.socket, flowsSource: null, pods: [], summary: { offloaded: 0, softwarePath: 0, broken: 0, unknown: 0 }, notes: [],
    });
    expect(existsSync(log)).toBe(false);
    // --state-dir wins over KUBE_OVN_OFFLOAD_STATE_DIR.
    await attach(n, 0, NGINX, 'nginx');
    const other = join(n.node.root, 'other-state');
    expect(await report(n, ['--state-dir', other], 0)).toMatchObject({ stateDir: other, pods: [] });
  });

  it('with OVSDB unreachable: unknown, saying what was not checked, exit 3; software traffic is still the software path', async () => {
    const n = await make();
    await attach(n, 0, NGINX, 'nginx');
    await attach(n, 1, BACKEND, 'backend');
    const gone = join(n.node.root, 'no-such-db.sock');
    const seed = byPod(await report(n, ['--ovsdb', gone, '--input', fixture('seed.txt')], 3));
    expect(seed.nginx).toMatchObject({
      ovs: null, checks: { vf: 'ok', representor: 'ok', port: 'unknown', binding: 'skipped', flows: 'ok' }, verdict: 'unknown',
      next: '--ovsdb SOCK names the OVSDB socket, if it is elsewhere',
    });
    expect(seed.nginx!.reason).toMatch(new RegExp(`^OVSDB at ${gone} is unreachable: connect ENOENT .*: port 5b45c61b307e_h not checked$`));

    const all = byPod(await report(n, ['--ovsdb', gone, '--input', fixture('all.txt')], 1));
    expect(all.backend).toMatchObject({ checks: { port: 'unknown', flows: 'fail' }, verdict: 'software path' });
  });

  it('without ovs-appctl: unknown, the flows not read, and exit 3', async () => {
    const n = await make();
    await attach(n, 0, NGINX, 'nginx');
    const r = await report(n, [], 3, { PATH: join(n.node.root, 'bin') }); // the fake tools only: no ovs-appctl
    expect(r.flowsSource).toBeNull();
    expect(r.notes).toEqual(['flows not read: ovs-appctl is not installed; run this in the ovs-ovn container, or pass --input']);
    const out = await status(n, [], { PATH: join(n.node.root, 'bin') });
    expect(out.stdout).toMatch(/^Flows not read \(see the note below\); OVSDB /);
    expect(out.stdout).toMatch(/\nnote: flows not read: ovs-appctl is not installed; run this in the ovs-ovn container, or pass --input\n$/);
    expect(r.pods[0]).toMatchObject({
      flows: null, checks: { vf: 'ok', representor: 'ok', port: 'ok', binding: 'ok', flows: 'unknown' }, verdict: 'unknown',
      reason: 'flows not read: ovs-appctl is not installed; run this in the ovs-ovn container, or pass --input',
    });
  });

  it('notes a record it cannot read, and still judges the others', async () => {
    const n = await make();
    await attach(n, 0, NGINX, 'nginx');
    writeFileSync(join(n.stateDir, 'vf', '0000:42:00.5.json'), '{not json');
    const r = await report(n, ['--input', fixture('seed.txt')], 0);
    expect(r.pods.map((p) => p.verdict)).toEqual(['offloaded']);
    expect(r.notes).toEqual([expect.stringMatching(/^the record of VF 0000:42:00.5 is unreadable \(state file .* is corrupt\): its pod is not shown$/)]);
  });

  it('exits 1 naming the state dir when it cannot be read', async () => {
    const n = await make({ services: false });
    mkdirSync(n.stateDir, { recursive: true });
    writeFileSync(join(n.stateDir, 'vf'), 'not a folder');
    const out = await status(n, []);
    expect(out).toMatchObject({ exitCode: 1, stdout: '' });
    expect(out.stderr).toMatch(new RegExp(`^kube-ovn-offload status: state ${join(n.stateDir, 'vf')}: ENOTDIR\n`));
  });

  it.each([
    ['an unknown flag', ['--bogus'], /Unknown option '--bogus'/],
    ['--pod without a slash', ['--pod', 'nginx'], /--pod takes NAMESPACE\/NAME, as default\/nginx, not "nginx"/],
    ['an empty --ovsdb', ['--ovsdb', ''], /--ovsdb needs a socket path/],
    ['a positional argument', ['extra'], /positional argument/],
  ])('exits 2 with the help for %s', async (_, args, message) => {
    const n = await make({ services: false });
    const out = await status(n, args);
    expect(out.exitCode).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(message);
    expect(out.stderr).toContain('Usage: kube-ovn-offload status [--pod NS/NAME] [--json] [--input FILE] [--ovsdb SOCK] [--state-dir DIR]');
  });

  it('--help names every flag, the verdicts and the exit statuses, and the usage lists status', async () => {
    const n = await make({ services: false });
    const out = await status(n, ['--help']);
    expect(out.exitCode).toBe(0);
    for (const text of ['--pod NS/NAME', '--json', '--input FILE', '--ovsdb SOCK', '--state-dir DIR', 'Not the CNI STATUS command', 'software path', 'Exit status: 0', '; 1 a pod is broken or on', '; 3 none is, but some pod is unknown']) {
      expect(out.stdout).toContain(text);
    }
    const usage = await cli(['--help'], { PATH: '/usr/bin:/bin' });
    expect(usage.stdout).toContain('kube-ovn-offload status [--pod NS/NAME] [--json] [--input FILE]');
  });
});
