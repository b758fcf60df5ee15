import { readFile } from 'node:fs/promises';
import * as z from 'zod/mini';
import { CniError } from '../cni/errors.js';
import { representorHostName } from '../kubeovn/naming.js';
import { describeFlow, hashUse, inHardware, parseDump, tellsHardware, usesAction, type Dump, type NumberedFlow } from '../node/dpflows.js';
import { StateStore, type Attachment } from '../plugin/state.js';
import { hostFromEnv, parseFlags, UsageError, type CliIo, type Command, type Host } from './host.js';
import { bounded } from '../cni/preview.js';

const HELP = `Usage: kube-ovn-offload flows [--input FILE] [--all] [--json] [--state-dir DIR]

Per VF representor (per pod): how many datapath flows, packets and bytes run in the NIC
(offloaded:yes, dp:tc) and how many in software, read from
  ovs-appctl dpctl/dump-flows -m type=offloaded     (with --all: ovs-appctl dpctl/dump-flows -m)
Run it where ovs-appctl reaches ovs-vswitchd (the ovs-ovn container), or pass --input.
A flow counts for the port it comes in on (in_port); kube-ovn names a pod's representor
<containerID[:12]>_h, and the plugin's state names its pod. A pod whose traffic runs only in
software is a WARN with the likely causes; flows that use OVN's load balancer (dp_hash), which
the NIC cannot offload, are named. Malformed lines are reported and skipped.

Options:
  --input FILE      read a saved dump instead of running ovs-appctl
  --all             every flow, not only offloaded ones: needed to see a pod whose traffic
                    stays in software (with --input: FILE is such a full dump)
  --json            one JSON document: {source, all, totals, representors, otherPorts,
                    hashFlows, malformed, warnings, notes}
  --state-dir DIR   the plugin's state_dir, to name the pod of each representor
                    (default: $KUBE_OVN_OFFLOAD_STATE_DIR, else /var/lib/cni/kube-ovn-offload)
  -h, --help        this text

Exit status: 0 a report was printed (also with WARN), 1 the flows could not be read,
2 usage error.
`;

const Counts = z.object({ flows: z.number().check(z.int(), z.nonnegative()), packets: z.number().check(z.nonnegative()), bytes: z.number().check(z.nonnegative()) });
const Pod = z.object({ namespace: z.string(), name: z.string() });
const PortReport = z.object({
  port: z.string(),
  /** The pod, when the plugin's state knows the representor; null otherwise. */
  pod: z.nullable(Pod),
  containerId: z.optional(z.string()),
  deviceID: z.optional(z.string()),
  hardware: Counts,
  software: Counts,
  /** `none`: a pod on record whose representor has no flow in the dump. */
  state: z.enum(['hardware', 'software', 'mixed', 'none']),
  /** Software flows with packets, and no flow in hardware. */
  warn: z.boolean(),
});
const HashFlow = z.object({
  line: z.number().check(z.int(), z.positive()),
  ufid: z.optional(z.string()),
  port: z.optional(z.string()),
  pod: z.nullable(Pod),
  /** `action hash(l4(0))` or `match dp_hash(0x1/0xf)`. */
  uses: z.string(),
  packets: z.number(),
  bytes: z.number(),
  inHardware: z.boolean(),
});
/** What `flows --json` prints. */
export const FlowsReport = z.object({
  /** The command that was run, or `file:<path>`. */
  source: z.string(),
  all: z.boolean(),
  totals: z.object({ hardware: Counts, software: Counts }),
  representors: z.array(PortReport),
  /** Ports that are not pod representors: the uplink, tunnel ports. */
  otherPorts: z.array(PortReport),
  hashFlows: z.array(HashFlow),
  malformed: z.array(z.object({ line: z.number().check(z.int(), z.positive()), text: z.string(), why: z.string() })),
  warnings: z.array(z.string()),
  notes: z.array(z.string()),
});
export type FlowsReport = z.infer<typeof FlowsReport>;
type PortReport = z.infer<typeof PortReport>;
type Counts = z.infer<typeof Counts>;

const KUBE_OVN_REP = /^[0-9a-f]{12}_h$/; // "5b45c61b307e_h": a pod's eth0 (kube-ovn's generateNicName)
const KUBE_OVN_REP_IF = /^[0-9a-f]{1,11}_[\w.-]+_h$/; // "5b45c61b_net1_h": another ifname, the container ID cut shorter
const VF_REP = /^pf\d+vf\d+$/; // "pf0vf3": a representor by its phys_port_name, not renamed (yet)

const LIKELY_CAUSES = [
  'hw-tc-offload is off on the uplink (ethtool -K <uplink> hw-tc-offload on)',
  'OVS other_config:hw-offload is not "true" (ovs-vsctl set Open_vSwitch . other_config:hw-offload=true, then restart ovs-vswitchd)',
  'other_config:tc-policy is skip_hw',
  "OVN's load balancer (dp_hash): install Kube-OVN with ENABLE_LB=false",
  'a flow the NIC cannot offload, such as connection tracking without CT offload support in the NIC, driver or kernel',
];

export const flows: Command = {
  name: 'flows',
  summary: 'offloaded and software datapath flows per pod, from ovs-appctl dpctl/dump-flows',
  help: HELP,
  async run(io: CliIo): Promise<number> {
    const opts = parseOptions(io.argv);
    const host = hostFromEnv(io.env, 30_000);
    const input = await readInput(host, opts);
    if ('error' in input) {
      io.err(`kube-ovn-offload flows: ${input.error}\n`);
      return 1;
    }
    const pods = await podsOnRecord(opts.stateDir ?? host.stateDir);
    const summary = summarize(parseDump(input.text), pods.attachments, { all: opts.all, source: input.source, fromFile: opts.input !== undefined });
    summary.report.notes.push(...pods.notes);
    io.out(opts.json ? JSON.stringify(summary.report, null, 2) + '\n' : render(summary, io.isTTY && !io.env.NO_COLOR));
    return 0;
  },
};

interface Options {
  input?: string;
  all: boolean;
  json: boolean;
  stateDir?: string;
}

function parseOptions(argv: string[]): Options {
  const values = parseFlags(argv, { input: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' }, 'state-dir': { type: 'string' } });
  if (values.input === '') throw new UsageError('--input needs a file name');
  if (values['state-dir'] === '') throw new UsageError('--state-dir needs a directory');
  return { input: values.input, all: values.all ?? false, json: values.json ?? false, stateDir: values['state-dir'] };
}

/** The dump's text, from the file or from ovs-appctl; a one-line reason when there is none. `status` reads it so too. */
export async function readInput(host: Host, opts: { input?: string; all: boolean }): Promise<{ text: string; source: string } | { error: string }> {
  if (opts.input !== undefined) {
    try {
      return { text: await readFile(opts.input, 'utf8'), source: `file:${opts.input}` };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return { error: `cannot read --input ${opts.input}: ${e.code ?? e.message}` };
    }
  }
  const args = opts.all ? ['dpctl/dump-flows', '-m'] : ['dpctl/dump-flows', '-m', 'type=offloaded'];
  const cmd = `ovs-appctl ${args.join(' ')}`;
  let out;
  try {
    out = await host.run('ovs-appctl', args);
  } catch (err) {
    if (err instanceof CniError) return { error: `${err.message}${err.details ? `: ${err.details}` : ''}` };
    throw err;
  }
  if (out === 'absent') return { error: 'ovs-appctl is not installed; run this in the ovs-ovn container, or pass --input' };
  if (out.exitCode !== 0) return { error: `\`${cmd}\` exited ${out.exitCode}:\n${out.stderr.trimEnd() || '(nothing on stderr)'}` };
  return { text: out.stdout, source: cmd };
}

/** Attachments on record; an unreadable state is a note, not a failure: pods then go unnamed. */
async function podsOnRecord(dir: string): Promise<{ attachments: Attachment[]; notes: string[] }> {
  try {
    const { attachments, unreadable } = await new StateStore(dir).all();
    return { attachments, notes: unreadable.map((u) => `state for VF ${u.pci} is unreadable (${u.error.message}); its pod is not named`) };
  } catch (err) {
    return { attachments: [], notes: [`pods are not named: ${err instanceof Error ? err.message : String(err)}`] };
  }
}

/** A WARN: one line, the likely causes, and what to run. `--json` prints it flattened into one string. */
export interface Finding {
  text: string;
  causes: string[];
  check?: string;
}

export interface Summary {
  report: FlowsReport;
  findings: Finding[];
}

/** The report, from the parsed dump and the attachments on record. Pure. */
export function summarize(dump: Dump, attachments: Attachment[], opts: { all: boolean; source: string; fromFile: boolean }): Summary {
  // kube-ovn renames the representor to <cid[:12]>_h; the record may hold the name from before.
  const byPort = new Map<string, Attachment>();
  for (const a of attachments) {
    for (const name of [a.representor.original, a.representor.host]) if (name) byPort.set(name, a);
    byPort.set(representorHostName(a.containerId, a.ifname), a);
  }
  const podOf = (port: string | undefined) => {
    const a = port === undefined ? undefined : byPort.get(port);
    return a ? { namespace: a.pod.namespace, name: a.pod.name } : null;
  };

  const ports = new Map<string, { hw: Counts; sw: Counts }>();
  const totals = { hardware: zero(), software: zero() };
  let noInPort = 0;
  for (const f of dump.flows) {
    const hw = inHardware(f);
    add(hw ? totals.hardware : totals.software, f);
    if (f.inPort === undefined) {
      noInPort++;
      continue;
    }
    let p = ports.get(f.inPort);
    if (!p) ports.set(f.inPort, (p = { hw: zero(), sw: zero() }));
    add(hw ? p.hw : p.sw, f);
  }

  const notes: string[] = [];
  const softwareSeen = dump.flows.some((f) => !inHardware(f));
  const canTell = tellsHardware(dump);
  const judge = canTell && (opts.all || softwareSeen);
  if (!canTell) notes.push('no flow carries dp: or offloaded: (dumped without -m?): hardware and software cannot be told apart, so every flow counts as software and no pod is judged');
  if (!opts.all) {
    if (!opts.fromFile) notes.push('--all not given: only offloaded flows were dumped (type=offloaded), so a pod whose traffic runs in software shows no flows here; run `kube-ovn-offload flows --all` to judge it');
    else if (!softwareSeen) notes.push('--all not given and the file holds only offloaded flows: a pod whose traffic runs in software cannot be judged; dump with `ovs-appctl dpctl/dump-flows -m` and pass --all');
    else if (canTell) notes.push('--all not given, but the file holds software flows too, so it is read as a full dump');
  }
  if (dump.flows.length === 0) notes.push('no flows in the input');
  if (noInPort > 0) notes.push(`${noInPort} flow(s) have no in_port and count for no port`);

  const representors: PortReport[] = [];
  const otherPorts: PortReport[] = [];
  for (const [port, c] of ports) {
    const a = byPort.get(port);
    const entry: PortReport = {
      port,
      pod: podOf(port),
      ...(a && { containerId: a.containerId, deviceID: a.deviceID }),
      hardware: c.hw,
      software: c.sw,
      state: c.hw.flows > 0 ? (c.sw.flows > 0 ? 'mixed' : 'hardware') : 'software',
      warn: judge && c.hw.flows === 0 && c.sw.flows > 0 && c.sw.packets > 0,
    };
    (a || KUBE_OVN_REP.test(port) || KUBE_OVN_REP_IF.test(port) || VF_REP.test(port) ? representors : otherPorts).push(entry);
  }
  // Pods on record without a single flow: idle, or (without --all) all in software.
  for (const a of attachments) {
    const port = representorHostName(a.containerId, a.ifname);
    if ([port, a.representor.host, a.representor.original].some((n) => n !== undefined && ports.has(n))) continue;
    representors.push({ port, pod: podOf(port), containerId: a.containerId, deviceID: a.deviceID, hardware: zero(), software: zero(), state: 'none', warn: false });
  }
  representors.sort((x, y) => podLabel(x).localeCompare(podLabel(y)) || x.port.localeCompare(y.port));
  otherPorts.sort((x, y) => x.port.localeCompare(y.port));

  const findings: Finding[] = [];
  for (const r of representors.filter((r) => r.warn)) {
    const own = dump.flows.filter((f) => f.inPort === r.port && !inHardware(f));
    const hints = [
      own.some((f) => f.usesHash) && "some use OVN's load balancer, dp_hash",
      own.some((f) => usesAction(f, 'ct')) && 'some use connection tracking, ct',
    ].filter(Boolean);
    findings.push({
      text: `${describePort(r)}: ${r.software.flows} flow(s), ${r.software.packets} packets in software and none in hardware${hints.length ? ` (${hints.join('; ')})` : ''}`,
      causes: LIKELY_CAUSES,
      check: 'kube-ovn-offload doctor',
    });
  }
  const hashFlows = dump.flows.filter((f) => f.usesHash).map((f) => hashFlow(f, podOf(f.inPort)));
  for (const h of hashFlows) {
    const where = h.port ? ` on ${describePort({ port: h.port, pod: h.pod })}` : '';
    const flow = [`line ${h.line}`, h.ufid && `ufid:${h.ufid}`].filter(Boolean).join(' ');
    findings.push({
      text: `${flow}${where}: ${h.uses} is OVN's load balancer (select group, dp_hash), which the NIC cannot offload; Kube-OVN's offload guide installs with ENABLE_LB=false`,
      causes: [],
    });
  }

  const report = { source: opts.source, all: opts.all, totals, representors, otherPorts, hashFlows, malformed: dump.malformed, warnings: findings.map(flatten), notes };
  return { report, findings };
}

function flatten(f: Finding): string {
  const causes = f.causes.length ? `. Likely causes: ${f.causes.join('; ')}` : '';
  return `${f.text}${causes}${f.check ? `. Check with \`${f.check}\`` : ''}`;
}

function hashFlow(f: NumberedFlow, pod: z.infer<typeof Pod> | null): z.infer<typeof HashFlow> {
  return {
    line: f.line,
    ...(f.ufid !== undefined && { ufid: f.ufid }),
    ...(f.inPort !== undefined && { port: f.inPort }),
    pod,
    uses: hashUse(f) ?? describeFlow(f),
    packets: f.packets,
    bytes: f.bytes,
    inHardware: inHardware(f),
  };
}

function zero(): Counts {
  return { flows: 0, packets: 0, bytes: 0 };
}

function add(c: Counts, f: NumberedFlow): void {
  c.flows++;
  c.packets += f.packets;
  c.bytes += f.bytes;
}

/** Pods by namespace/name first, unnamed representors after. */
function podLabel(r: PortReport): string {
  return r.pod ? `0${r.pod.namespace}/${r.pod.name}` : '1';
}

function describePort(r: Pick<PortReport, 'port' | 'pod'>): string {
  return r.pod ? `pod ${r.pod.namespace}/${r.pod.name} (port ${r.port})` : `port ${r.port}`;
}

const COLUMNS = ['PORT', 'POD', 'HW FLOWS', 'HW PACKETS', 'HW BYTES', 'SW FLOWS', 'SW PACKETS', 'SW BYTES', 'STATE'] as const;
const NUMERIC = new Set<string>(['HW FLOWS', 'HW PACKETS', 'HW BYTES', 'SW FLOWS', 'SW PACKETS', 'SW BYTES']);

/** The human report: a table aligned for a terminal, then WARN lines and notes. */
export function render({ report, findings }: Summary, colour: boolean): string {
  const paint = (code: string, s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const { hardware: hw, software: sw } = report.totals;
  const lines: string[] = [
    `Flows from ${report.source}: ${hw.flows + sw.flows} flow(s), ${hw.flows} in hardware, ${sw.flows} in software`,
    '',
  ];
  const rows = [
    ...report.representors.map((r) => ({ r, pod: r.pod ? `${r.pod.namespace}/${r.pod.name}` : '-' })),
    ...report.otherPorts.map((r) => ({ r, pod: '(not a pod)' })),
  ].map(({ r, pod }) => ({
    r,
    cells: [r.port, pod, r.hardware.flows, r.hardware.packets, r.hardware.bytes, r.software.flows, r.software.packets, r.software.bytes, r.warn ? 'software WARN' : r.state].map(String),
  }));
  if (rows.length === 0) {
    lines.push('No flows per port.');
  } else {
    const widths = COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((row) => row.cells[i]!.length)));
    const line = (cells: readonly string[], paintState?: (s: string) => string) =>
      cells
        .map((c, i) => {
          const last = i === cells.length - 1;
          if (last) return paintState ? paintState(c) : c;
          return NUMERIC.has(COLUMNS[i]!) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!);
        })
        .join('  ');
    lines.push(paint('1', line(COLUMNS)));
    for (const { r, cells } of rows) {
      const code = r.warn ? '31' : r.state === 'hardware' ? '32' : r.state === 'none' ? '2' : '33';
      lines.push(line(cells, (s) => paint(code, s)));
    }
  }
  if (findings.length) lines.push('');
  for (const f of findings) {
    lines.push(`${paint('33', 'WARN')} ${f.text}`);
    if (f.causes.length) lines.push('     likely causes:', ...f.causes.map((c) => `       - ${c}`));
    if (f.check) lines.push(`     check: ${f.check}`);
  }
  if (report.malformed.length) lines.push('');
  for (const m of report.malformed) lines.push(`${paint('2', 'note:')} line ${m.line} skipped, malformed: ${m.why}: ${JSON.stringify(bounded(m.text, 72))}`);
  if (report.notes.length) lines.push('');
  for (const n of report.notes) lines.push(`${paint('2', 'note:')} ${n}`);
  return lines.join('\n') + '\n';
}
