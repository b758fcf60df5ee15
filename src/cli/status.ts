import * as z from 'zod/mini';
import { CniError, Code } from '../cni/errors.js';
import { representorHostName } from '../kubeovn/naming.js';
import { parseDump, tellsHardware, type Dump } from '../node/dpflows.js';
import { ovsdbClient, type Ovsdb, type PortBinding } from '../node/ovsdb.js';
import { representorFromSysfs } from '../node/representor.js';
import { resolveVf } from '../node/vf.js';
import { StateStore, type Attachment } from '../plugin/state.js';
import { readInput, summarize } from './flows.js';
import { hostFromEnv, parseFlags, UsageError, type CliIo, type Command, type Host } from './host.js';

const HELP = `Usage: kube-ovn-offload status [--pod NS/NAME] [--json] [--input FILE] [--ovsdb SOCK] [--state-dir DIR]

The operator's view of this node: is each pod that got a VF through kube-ovn-offload really
offloaded? (Not the CNI STATUS command, which the container runtime sends.) For every
attachment on record in <state_dir>/vf/<pci>.json it shows the pod, VF, PF, uplink,
representor and mode, and checks:
  vf           the VF still exists, as the same VF of the same PF (sysfs)
  representor  the VF still has a representor, named as kube-ovn names the pod's port
  port         that port is on br-int (OVSDB)
  binding      its Interface has external_ids:iface-id and ovn-installed="true"
               (ovn-controller has bound it)
  flows        its datapath flows and bytes, in hardware and in software, from
               ovs-appctl dpctl/dump-flows -m (every flow, not only type=offloaded); a flow
               counts for the port it comes in on (in_port): the traffic the pod sends
Then one verdict per pod, with the reason:
  offloaded      its flows are in hardware and none of its traffic went through software
  software path  software flows carried packets for the port, all of its traffic or some
  broken         the VF or representor is gone, or the port is missing, not on br-int, or
                 not bound by ovn-controller
  unknown        nothing above is wrong, but something could not be checked (OVSDB
                 unreachable, no ovs-appctl, a dump without -m), or the port has no flow in
                 hardware and no packets in software now: OVS removes a datapath flow after
                 10 s without packets, so an idle pod cannot be judged; send traffic and
                 run it again

Options:
  --pod NS/NAME     only this pod (every VF it has)
  --json            one JSON document: {stateDir, ovsdb, flowsSource, pods, summary, notes}
  --input FILE      a saved \`ovs-appctl dpctl/dump-flows -m\` (every flow) instead of running
                    ovs-appctl
  --ovsdb SOCK      OVSDB socket (default /run/openvswitch/db.sock)
  --state-dir DIR   the plugin's state_dir (default: $KUBE_OVN_OFFLOAD_STATE_DIR, else
                    /var/lib/cni/kube-ovn-offload)
  -h, --help        this text

Exit status: 0 every pod listed is offloaded, or none is on record; 1 a pod is broken or on
the software path, or the state could not be read; 3 none is, but some pod is unknown;
2 usage error, also a --pod that has no VF on record here.
Run it where ovs-appctl reaches ovs-vswitchd, or pass --input. /sys and /run are read under
KUBE_OVN_OFFLOAD_SYSFS_ROOT when it is set.
`;

/** How long one OVSDB question may take; the pods are asked about side by side. */
const OVSDB_TIMEOUT_MS = 5000;

const Counts = z.object({ flows: z.number().check(z.int(), z.nonnegative()), packets: z.number().check(z.nonnegative()), bytes: z.number().check(z.nonnegative()) });
/** `ok`; `fail`: what the verdict names; `unknown`: could not be checked; `skipped`: an earlier check made it moot. */
const CheckStatus = z.enum(['ok', 'fail', 'unknown', 'skipped']);
const Verdict = z.enum(['offloaded', 'software path', 'broken', 'unknown']);
const PodStatus = z.object({
  pod: z.object({ namespace: z.string(), name: z.string() }),
  network: z.string(),
  containerId: z.string(),
  ifname: z.string(),
  /** Absent in records of releases before topologies. */
  mode: z.nullable(z.enum(['guard', 'shim'])),
  vf: z.object({ pci: z.string(), pf: z.string(), index: z.number().check(z.int(), z.nonnegative()), uplink: z.nullable(z.string()) }),
  representor: z.object({
    /** Its name when the plugin's ADD saw it, before kube-ovn renamed it. */
    original: z.nullable(z.string()),
    /** Its name in sysfs now: null when the VF has none, or when it was not looked for. */
    now: z.nullable(z.string()),
  }),
  /** The br-int port kube-ovn made of the representor: <containerID[:12]>_h for eth0. */
  port: z.string(),
  /** The port in OVSDB; null when there is no such port, or OVSDB was not read (checks.port says which). */
  ovs: z.nullable(z.object({ bridge: z.nullable(z.string()), ifaceId: z.nullable(z.string()), ovnInstalled: z.boolean() })),
  /** Its datapath flows; null when no dump could be read or it cannot tell hardware from software. */
  flows: z.nullable(z.object({ hardware: Counts, software: Counts })),
  checks: z.object({ vf: CheckStatus, representor: CheckStatus, port: CheckStatus, binding: CheckStatus, flows: CheckStatus }),
  verdict: Verdict,
  reason: z.string(),
  /** What to run or read next, when the verdict is not offloaded. */
  next: z.optional(z.string()),
});
/** What `status --json` prints. */
export const StatusReport = z.object({
  stateDir: z.string(),
  ovsdb: z.string(),
  /** The command that was run, `file:<path>`, or null when the flows were not read (no pod to judge). */
  flowsSource: z.nullable(z.string()),
  pods: z.array(PodStatus),
  summary: z.object({ offloaded: z.number(), softwarePath: z.number(), broken: z.number(), unknown: z.number() }),
  notes: z.array(z.string()),
});
export type StatusReport = z.infer<typeof StatusReport>;
type PodStatus = z.infer<typeof PodStatus>;
type Counts = z.infer<typeof Counts>;
type CheckName = keyof PodStatus['checks'];

/** One check's outcome: the text is what the verdict says when this check decides it. */
interface Outcome {
  status: z.infer<typeof CheckStatus>;
  text: string;
  next?: string;
}

export const status: Command = {
  name: 'status',
  summary: 'the operator view: is each pod with a VF on this node offloaded, software path or broken',
  help: HELP,
  async run(io: CliIo): Promise<number> {
    const opts = parseOptions(io.argv);
    const host = hostFromEnv(io.env, 30_000);
    const stateDir = opts.stateDir ?? host.stateDir;
    const ovsdb = opts.ovsdb ?? host.path('run', 'openvswitch', 'db.sock');
    // An unreadable state dir is a CniError: main.ts prints it and exits 1.
    const state = await new StateStore(stateDir).all();
    const notes = [
      ...state.unreadable.map((u) => `the record of VF ${u.pci} is unreadable (${u.error.message}): its pod is not shown`),
      ...state.skipped.map((s) => `skipped ${s}`),
    ];
    let attachments = state.attachments;
    if (opts.pod) {
      const { namespace, name } = opts.pod;
      attachments = attachments.filter((a) => a.pod.namespace === namespace && a.pod.name === name);
      if (attachments.length === 0) {
        const known = [...new Set(state.attachments.map((a) => `${a.pod.namespace}/${a.pod.name}`))].sort();
        throw new UsageError(`pod ${namespace}/${name} has no VF on record in ${stateDir} (on record: ${known.join(', ') || 'none'})`);
      }
    }
    attachments.sort((x, y) => label(x).localeCompare(label(y)) || x.deviceID.localeCompare(y.deviceID));

    const dump = attachments.length > 0 ? await readDump(host, opts.input) : undefined;
    if (dump && dump.source === null) notes.push(`flows not read: ${dump.error}`);
    if (dump && 'dump' in dump && dump.dump.malformed.length > 0) {
      notes.push(`${dump.dump.malformed.length} malformed line(s) of the dump skipped; \`kube-ovn-offload flows\` lists them`);
    }
    const client = ovsdbClient(ovsdb, OVSDB_TIMEOUT_MS);
    const pods = await Promise.all(attachments.map((a) => podStatus(host, client, a, dump)));
    const report: StatusReport = {
      stateDir,
      ovsdb,
      flowsSource: dump?.source ?? null,
      pods,
      summary: {
        offloaded: pods.filter((p) => p.verdict === 'offloaded').length,
        softwarePath: pods.filter((p) => p.verdict === 'software path').length,
        broken: pods.filter((p) => p.verdict === 'broken').length,
        unknown: pods.filter((p) => p.verdict === 'unknown').length,
      },
      notes,
    };
    io.out(opts.json ? JSON.stringify(report, null, 2) + '\n' : render(report, io.isTTY && !io.env.NO_COLOR));
    if (report.summary.broken + report.summary.softwarePath > 0) return 1;
    return report.summary.unknown > 0 ? 3 : 0;
  },
};

interface Options {
  pod?: { namespace: string; name: string };
  json: boolean;
  input?: string;
  ovsdb?: string;
  stateDir?: string;
}

const POD = /^([^/\s]+)\/([^/\s]+)$/; // "default/nginx" → namespace "default", name "nginx"

function parseOptions(argv: string[]): Options {
  const values = parseFlags(argv, { pod: { type: 'string' }, json: { type: 'boolean' }, input: { type: 'string' }, ovsdb: { type: 'string' }, 'state-dir': { type: 'string' } });
  let pod: Options['pod'];
  if (values.pod !== undefined) {
    const m = POD.exec(values.pod);
    if (!m) throw new UsageError(`--pod takes NAMESPACE/NAME, as default/nginx, not ${JSON.stringify(values.pod)}`);
    pod = { namespace: m[1]!, name: m[2]! };
  }
  for (const flag of ['input', 'ovsdb', 'state-dir'] as const) {
    if (values[flag] === '') throw new UsageError(`--${flag} needs a ${flag === 'input' ? 'file name' : flag === 'ovsdb' ? 'socket path' : 'directory'}`);
  }
  return { pod, json: values.json ?? false, input: values.input, ovsdb: values.ovsdb, stateDir: values['state-dir'] };
}

type DumpRead = { source: string; dump: Dump } | { source: null; error: string };

/** Every flow, as `flows --all` reads it: software flows are what tells the software path. */
async function readDump(host: Host, input: string | undefined): Promise<DumpRead> {
  const read = await readInput(host, { input, all: true });
  if ('error' in read) return { source: null, error: read.error };
  return { source: read.source, dump: parseDump(read.text) };
}

async function podStatus(host: Host, ovsdb: Ovsdb, a: Attachment, dump: DumpRead | undefined): Promise<PodStatus> {
  const port = a.representor.host ?? representorHostName(a.containerId, a.ifname);
  const [vf, rep, ovs] = await Promise.all([vfCheck(host, a), representorCheck(host, a, port), portCheck(ovsdb, port)]);
  const binding = bindingCheck(port, ovs);
  const flows = flowsCheck(a, port, dump);
  const checks = { vf: vf.status, representor: vf.status === 'fail' ? 'skipped' : rep.outcome.status, port: ovs.outcome.status, binding: binding.status, flows: flows.outcome.status } as const;
  const outcomes: Record<CheckName, Outcome> = { vf, representor: rep.outcome, port: ovs.outcome, binding, flows: flows.outcome };
  const { verdict, decided } = judge(checks);
  const because = outcomes[decided];
  return {
    pod: { namespace: a.pod.namespace, name: a.pod.name },
    network: a.network,
    containerId: a.containerId,
    ifname: a.ifname,
    mode: a.mode ?? null,
    vf: { pci: a.deviceID, pf: a.pf, index: a.vfIndex, uplink: a.uplink ?? null },
    representor: { original: a.representor.original ?? null, now: vf.status === 'fail' ? null : rep.now },
    port,
    ovs: ovs.binding ? { bridge: ovs.binding.bridge ?? null, ifaceId: ovs.binding.externalIds?.['iface-id'] ?? null, ovnInstalled: ovs.binding.externalIds?.['ovn-installed'] === 'true' } : null,
    flows: flows.counts ?? null,
    checks,
    verdict,
    reason: because.text,
    ...(because.next !== undefined && verdict !== 'offloaded' && { next: because.next }),
  };
}

/**
 * The verdict and the check that decides it: a failed set-up check is broken; software traffic
 * is the software path (known whatever else could not be checked); then anything unchecked is
 * unknown; only a pod whose every check passed is offloaded, and its flows say why.
 */
function judge(checks: Record<CheckName, Outcome['status']>): { verdict: z.infer<typeof Verdict>; decided: CheckName } {
  const setup: CheckName[] = ['vf', 'representor', 'port', 'binding'];
  const failed = setup.find((c) => checks[c] === 'fail');
  if (failed) return { verdict: 'broken', decided: failed };
  if (checks.flows === 'fail') return { verdict: 'software path', decided: 'flows' };
  const unknown = [...setup, 'flows' as const].find((c) => checks[c] === 'unknown');
  if (unknown) return { verdict: 'unknown', decided: unknown };
  return { verdict: 'offloaded', decided: 'flows' };
}

/** An I/O error reading sysfs is "could not check", never a crash. */
function notChecked(err: unknown, what: string): Outcome {
  if (err instanceof CniError) return { status: 'unknown', text: `${what} not checked: ${err.message}` };
  throw err;
}

async function vfCheck(host: Host, a: Attachment): Promise<Outcome> {
  const { sysfs } = host;
  const next = 'the pod has lost its NIC: recreate it; `kube-ovn-offload doctor` checks the PF and its VFs';
  try {
    if ((await sysfs.list(sysfs.pciDevice(a.deviceID))).length === 0) {
      return { status: 'fail', text: `VF ${a.deviceID} is gone: ${sysfs.pciDevice(a.deviceID)} does not exist (were the VFs re-created?)`, next };
    }
    const vf = await resolveVf(sysfs, a.deviceID);
    if (vf.pf !== a.pf || vf.index !== a.vfIndex) {
      return { status: 'fail', text: `${a.deviceID} is VF ${vf.index} of PF ${vf.pf} now, not VF ${a.vfIndex} of PF ${a.pf} as on record (were the VFs re-created?)`, next };
    }
    return { status: 'ok', text: `${a.deviceID} is VF ${a.vfIndex} of PF ${a.pf}` };
  } catch (err) {
    if (err instanceof CniError && err.code === Code.NotAVf) return { status: 'fail', text: `${a.deviceID} is no longer a VF of PF ${a.pf}: ${err.message}`, next };
    return notChecked(err, `VF ${a.deviceID}`);
  }
}

async function representorCheck(host: Host, a: Attachment, port: string): Promise<{ outcome: Outcome; now: string | null }> {
  let now: string | undefined;
  try {
    now = await representorFromSysfs(host.sysfs, a.pf, a.vfIndex);
  } catch (err) {
    return { outcome: notChecked(err, `the representor of VF ${a.deviceID}`), now: null };
  }
  if (now === undefined) {
    return {
      outcome: { status: 'fail', text: `VF ${a.deviceID} has no representor: is the eSwitch of PF ${a.pf} still in switchdev mode?`, next: 'kube-ovn-offload doctor (switchdev, representors)' },
      now: null,
    };
  }
  if (now !== port) {
    return {
      outcome: {
        status: 'fail',
        text: `the representor of VF ${a.deviceID} is ${now}, not ${port}: kube-ovn has not renamed it, so its port cannot carry the pod's traffic`,
        next: "kube-ovn's daemon did not finish this pod's ADD: the kube-ovn-cni pod's log on this node",
      },
      now,
    };
  }
  return { outcome: { status: 'ok', text: `the representor of VF ${a.deviceID} is ${now}` }, now };
}

async function portCheck(ovsdb: Ovsdb, port: string): Promise<{ outcome: Outcome; binding?: PortBinding }> {
  let binding: PortBinding | undefined;
  try {
    binding = await ovsdb.portBinding(port);
  } catch (err) {
    if (!(err instanceof CniError)) throw err;
    return { outcome: { status: 'unknown', text: `${err.message}: port ${port} not checked`, next: '--ovsdb SOCK names the OVSDB socket, if it is elsewhere' } };
  }
  if (!binding) {
    return { outcome: { status: 'fail', text: `port ${port} is not in OVS: kube-ovn's daemon has not added it, or something removed it`, next: `the kube-ovn-cni pod's log on this node; \`ovs-vsctl list-ports br-int\`` } };
  }
  if (binding.bridge !== 'br-int') {
    const where = binding.bridge ? `on bridge ${binding.bridge}` : 'on no bridge';
    return { outcome: { status: 'fail', text: `port ${port} is ${where}, not on br-int`, next: `\`ovs-vsctl port-to-br ${port}\`` }, binding };
  }
  return { outcome: { status: 'ok', text: `port ${port} is on br-int` }, binding };
}

function bindingCheck(port: string, ovs: { outcome: Outcome; binding?: PortBinding }): Outcome {
  if (ovs.outcome.status !== 'ok') return { status: 'skipped', text: `not checked: port ${port} ${ovs.outcome.status === 'fail' ? 'is not on br-int' : 'was not read'}` };
  const ids = ovs.binding?.externalIds ?? {};
  const next = `the ovs-ovn pod's log on this node (ovn-controller); \`ovs-vsctl get interface ${port} external_ids\``;
  if (!ids['iface-id']) return { status: 'fail', text: `port ${port} has no external_ids:iface-id: ovn-controller cannot bind it to the pod's logical switch port`, next };
  if (ids['ovn-installed'] !== 'true') return { status: 'fail', text: `ovn-installed is not set on port ${port}: ovn-controller has not bound the port (iface-id ${ids['iface-id']})`, next };
  return { status: 'ok', text: `port ${port} is bound: iface-id ${ids['iface-id']}, ovn-installed=true` };
}

function flowsCheck(a: Attachment, port: string, read: DumpRead | undefined): { outcome: Outcome; counts?: { hardware: Counts; software: Counts } } {
  if (!read || read.source === null) {
    return { outcome: { status: 'unknown', text: `flows not read: ${read?.error ?? 'no dump'}`, next: 'run it where ovs-appctl reaches ovs-vswitchd, or pass --input with a saved `ovs-appctl dpctl/dump-flows -m`' } };
  }
  if (!tellsHardware(read.dump)) {
    return { outcome: { status: 'unknown', text: 'the dump does not say which flows are in hardware (no dp: or offloaded:, dumped without -m?)', next: 'dump with `ovs-appctl dpctl/dump-flows -m`' } };
  }
  // flows' own mapping of pods to ports, so the two commands count the same flows for a pod.
  const mine = summarize(read.dump, [a], { all: true, source: read.source, fromFile: false }).report.representors.filter((r) => r.deviceID === a.deviceID);
  const counts = { hardware: sum(mine.map((r) => r.hardware)), software: sum(mine.map((r) => r.software)) };
  const { hardware: hw, software: sw } = counts;
  if (sw.packets > 0 || sw.bytes > 0) {
    const inHw = hw.flows > 0 ? `; ${hw.flows} flow(s) with ${hw.packets} packets ran in hardware` : ' and none ran in hardware';
    return {
      outcome: {
        status: 'fail',
        text: `${sw.flows} flow(s) of port ${port} carried ${sw.packets} packets (${sw.bytes} bytes) in software${inHw}`,
        next: '`kube-ovn-offload flows --all` shows the flows and the likely causes; `kube-ovn-offload doctor` checks the node',
      },
      counts,
    };
  }
  if (hw.flows > 0) {
    return { outcome: { status: 'ok', text: `its ${hw.flows} flow(s) run in hardware (${hw.packets} packets, ${hw.bytes} bytes) and none of its traffic went through software` }, counts };
  }
  const idle = sw.flows > 0 ? `its ${sw.flows} flow(s) in software have carried no packet yet` : `no datapath flows for port ${port} now`;
  return {
    outcome: { status: 'unknown', text: `${idle}: no traffic in the last 10 s (OVS removes idle flows), so nothing shows where it runs`, next: 'send traffic from the pod and run status again within 10 s' },
    counts,
  };
}

function sum(all: Counts[]): Counts {
  return all.reduce((t, c) => ({ flows: t.flows + c.flows, packets: t.packets + c.packets, bytes: t.bytes + c.bytes }), { flows: 0, packets: 0, bytes: 0 });
}

/** A pod, and the interface when it is not eth0 (a pod may hold several VFs). */
function label(a: Pick<Attachment, 'pod' | 'ifname'>): string {
  return `${a.pod.namespace}/${a.pod.name}${a.ifname === 'eth0' ? '' : ` (${a.ifname})`}`;
}

const COLOURS: Record<z.infer<typeof Verdict>, string> = { offloaded: '32', 'software path': '33', broken: '31', unknown: '2' };

/** The human report: a block per pod, its verdict on the first line, then a summary line and notes. */
export function render(report: StatusReport, colour: boolean): string {
  const paint = (code: string, s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const lines: string[] = [];
  if (report.pods.length === 0) {
    lines.push(`No pod on record in ${report.stateDir}: no pod on this node got a VF through kube-ovn-offload.`);
  } else {
    lines.push(`${report.flowsSource ? `Flows from ${report.flowsSource}` : 'Flows not read (see the note below)'}; OVSDB ${report.ovsdb}; records in ${report.stateDir}`, '');
  }
  for (const p of report.pods) {
    const row = (name: string, text: string) => lines.push(`  ${name.padEnd(12)} ${text}`);
    lines.push(`${paint('1', label(p))}  ${paint(COLOURS[p.verdict], p.verdict)}`);
    row('vf', `${p.vf.pci}, VF ${p.vf.index} of PF ${p.vf.pf}${p.vf.uplink ? ` (uplink ${p.vf.uplink})` : ''}${p.mode ? `, ${p.mode} mode` : ''}`);
    row('representor', p.representor.now ?? (p.checks.representor === 'fail' ? 'none' : '(not read)'));
    row('port', portLine(p));
    row('flows', p.flows ? `hardware ${counts(p.flows.hardware)}; software ${counts(p.flows.software)}` : '(not read)');
    row('why', p.reason);
    if (p.next) row('next', p.next);
    lines.push('');
  }
  if (report.pods.length > 0) {
    const s = report.summary;
    lines.push(`${report.pods.length} pod(s): ${s.offloaded} offloaded, ${s.softwarePath} software path, ${s.broken} broken, ${s.unknown} unknown`);
  }
  if (report.notes.length) lines.push('');
  for (const n of report.notes) lines.push(`${paint('2', 'note:')} ${n}`);
  return lines.join('\n') + '\n';
}

function portLine(p: PodStatus): string {
  if (p.checks.port === 'unknown') return `${p.port} (OVSDB not read)`;
  if (!p.ovs) return `${p.port}, not in OVS`;
  const where = p.ovs.bridge ? `on ${p.ovs.bridge}` : 'on no bridge';
  const binding = [p.ovs.ifaceId ? `iface-id ${p.ovs.ifaceId}` : 'no iface-id', p.ovs.ovnInstalled ? 'ovn-installed' : 'not ovn-installed'];
  return `${p.port} ${where}, ${binding.join(', ')}`;
}

function counts(c: Counts): string {
  return c.flows === 0 ? '0 flows' : `${c.flows} flow(s), ${c.packets} packets, ${c.bytes} bytes`;
}
