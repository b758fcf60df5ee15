import { preview } from '../cni/preview.js';
import { daemonListening } from '../kubeovn/client.js';
import { bondOf } from '../node/bond.js';
import { devlinkPorts, devlinkEswitchMode } from '../node/devlink.js';
import { eswitchModeOf } from '../node/eswitch.js';
import { ethtoolHwTcOffload } from '../node/features.js';
import { mellanoxPfs, pickPf, type PfInventory } from '../node/inventory.js';
import { ovsdbClient } from '../node/ovsdb.js';
import { findRepresentor } from '../node/representor.js';
import { entriesOf, PASSED, switchdevFix, type NodeFacts, type PfFacts, type Rules, type VfFacts } from '../plugin/checks.js';
import { cniChecks, PROBE_TIMEOUT_MS, type CniOptions } from './doctor-cni.js';
import { hostFromEnv, parseFlags, UsageError, type CliIo, type Command, type Host } from './host.js';
import type { Check, Status } from './check.js';

export type { Check, Status };


const MIN_KERNEL = [5, 7];
const PROBE_TIMEOUT_S = PROBE_TIMEOUT_MS / 1000;

const HELP = `kube-ovn-offload doctor [--pf DEV] [--json] [--ovsdb SOCK] [--daemon-socket SOCK]
                        [--cni-conf-dir DIR] [--cni-bin-dir DIR] [--multus-daemon-config FILE]

Checks this node against the prerequisites of Mellanox ASAP² offload with Kube-OVN, one
line each — PASS, WARN or FAIL — with the command that fixes a failure:
  mellanox-pf       a ConnectX-5/6/7 or BlueField PF is present (PCI vendor 15b3)
  kernel            Linux 5.7 or later (/proc/sys/kernel/osrelease)
  vfs               VFs created (sriov_numvfs > 0, at most sriov_totalvfs)
  switchdev         the eSwitch is in switchdev mode (devlink, else sysfs)
  hw-tc-offload     on, on the uplink (ethtool; WARN when ethtool is missing)
  bond              the uplink is not enslaved to a bond
  vf-drivers        VFs bound to mlx5_core (vfio-pci is said as such)
  representors      one representor per VF
  networkmanager    NetworkManager does not manage the PF (WARN)
  ovs-hw-offload    OVS other_config:hw-offload=true, read over OVSDB
  kube-ovn-daemon   the kube-ovn daemon's socket accepts connections
and the CNI set-up, from the CNI conf dir and bin dir:
  offload-plugin    kube-ovn-offload is in the bin dir and answers CNI_COMMAND=VERSION
  multus            Multus's conf is the first file of the conf dir (what the runtime runs),
                    thin ("type": "multus") or thick ("type": "multus-shim"), binary installed
  multus-chroot     thick only: multus-daemon's chrootDir, so that delegates run in the
                    node's root (WARN when its daemon-config.json is not visible here)
  cni-topology      the cluster network Multus runs, and any conflist naming kube-ovn-offload:
                    guard before kube-ovn, shim without it; a list read from a file gets no
                    deviceID (FAIL when it requires one); a NetworkAttachmentDefinition
                    lives in the API, not on the node: WARN, unseen
  kube-ovn-plugin   kube-ovn's plugin is in the bin dir, and its release when it says one
Binaries are run with a clean environment and a ${PROBE_TIMEOUT_S}s timeout, and only when their
header shows they can run here.

Options:
  --pf DEV                     check only this PF (PCI address or netdev); default: every Mellanox PF
  --json                       one JSON document: {"checks": [...], "summary": {...}}
  --ovsdb SOCK                 OVSDB socket (default /run/openvswitch/db.sock)
  --daemon-socket SOCK         kube-ovn daemon socket (default /run/openvswitch/kube-ovn-daemon.sock)
  --cni-conf-dir DIR           CNI configuration directory (default /etc/cni/net.d)
  --cni-bin-dir DIR            CNI binary directory (default /opt/cni/bin)
  --multus-daemon-config FILE  multus-daemon's daemon-config.json (default: multus.d/ in the conf
                               dir, else the kubelet's copy of its ConfigMap, /var/lib/kubelet/pods)

Exit status: 0 when nothing FAILs, 1 when something does, 2 for a usage error.
/sys, /proc, /run, /etc/cni/net.d, /opt/cni/bin and /var/lib/kubelet are read under
KUBE_OVN_OFFLOAD_SYSFS_ROOT when it is set; paths given as options are taken as they are.
`;

export const doctor: Command = {
  name: 'doctor',
  summary: "check this node's offload prerequisites and CNI set-up",
  help: HELP,
  async run(io: CliIo): Promise<number> {
    const values = parseFlags(io.argv, {
      pf: { type: 'string' },
      json: { type: 'boolean' },
      ovsdb: { type: 'string' },
      'daemon-socket': { type: 'string' },
      'cni-conf-dir': { type: 'string' },
      'cni-bin-dir': { type: 'string' },
      'multus-daemon-config': { type: 'string' },
    });
    const host = hostFromEnv(io.env);
    const checks = await diagnose(host, {
      pf: values.pf,
      ovsdb: values.ovsdb ?? host.path('run', 'openvswitch', 'db.sock'),
      daemon: values['daemon-socket'] ?? host.path('run', 'openvswitch', 'kube-ovn-daemon.sock'),
      cni: {
        confDir: values['cni-conf-dir'] ?? host.path('etc', 'cni', 'net.d'),
        binDir: values['cni-bin-dir'] ?? host.path('opt', 'cni', 'bin'),
        multusDaemonConfig: values['multus-daemon-config'],
      },
    });
    const summary = { pass: count(checks, 'PASS'), warn: count(checks, 'WARN'), fail: count(checks, 'FAIL') };
    io.out(values.json ? JSON.stringify({ checks, summary }, null, 2) + '\n' : render(checks, io.isTTY));
    return summary.fail > 0 ? 1 : 0;
  },
};

/** Every check, node-wide first, then per PF, then the CNI set-up (when asked); independent checks run side by side. */
export async function diagnose(host: Host, opts: { pf?: string; ovsdb: string; daemon: string; cni?: CniOptions }): Promise<Check[]> {
  const all = await mellanoxPfs(host.sysfs);
  const selected = opts.pf ? pickPf(all, opts.pf) : undefined;
  if (opts.pf && !selected) throw new UsageError(`no Mellanox PF ${JSON.stringify(opts.pf)} on this node (found: ${all.map(label).join(', ') || 'none'})`);
  const pfs = selected ? [selected] : all;
  const [kernel, ovs, daemon, perPf, cni] = await Promise.all([
    kernelCheck(host),
    ovsCheck(opts.ovsdb),
    daemonCheck(opts.daemon),
    Promise.all(pfs.map((pf) => pfChecks(host, pf))),
    opts.cni ? cniChecks(host, opts.cni) : [],
  ]);
  return [presence(all), kernel, ovs, daemon, ...perPf.flat(), ...cni];
}

function presence(pfs: PfInventory[]): Check {
  const offloadable = pfs.filter((p) => p.family);
  const scope = 'node';
  if (offloadable.length > 0) return { scope, check: 'mellanox-pf', status: 'PASS', detail: offloadable.map(label).join(', ') };
  if (pfs.length > 0) return { scope, check: 'mellanox-pf', status: 'WARN', detail: `Mellanox devices without known ASAP² support: ${pfs.map((p) => `${p.pci} (device ${p.device})`).join(', ')}` };
  return { scope, check: 'mellanox-pf', status: 'FAIL', detail: 'no Mellanox PCI function (vendor 15b3) on this node', fix: 'ASAP² needs a ConnectX-5 or newer, or a BlueField; `lspci -nn | grep 15b3` lists them' };
}

function label(pf: PfInventory): string {
  return `${pf.pci} ${pf.family ?? `device ${pf.device}`}${pf.uplink ?? pf.netdevs[0] ? ` (${pf.uplink ?? pf.netdevs[0]})` : ''}`;
}

async function kernelCheck(host: Host): Promise<Check> {
  const release = await host.sysfs.read(host.path('proc', 'sys', 'kernel', 'osrelease'));
  const base = { scope: 'node', check: 'kernel' };
  if (!release) return { ...base, status: 'WARN', detail: 'cannot read /proc/sys/kernel/osrelease' };
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number); // "6.1.0-18-amd64" → 6, 1
  const ok = major > MIN_KERNEL[0]! || (major === MIN_KERNEL[0] && minor >= MIN_KERNEL[1]!);
  return ok ? { ...base, status: 'PASS', detail: `${release} (≥ 5.7)` }
    : { ...base, status: 'FAIL', detail: `${release} is older than 5.7`, fix: 'upgrade the kernel to 5.7 or later (or CentOS 8 Stream)' };
}

async function ovsCheck(socket: string): Promise<Check> {
  const base = { scope: 'node', check: 'ovs-hw-offload' };
  try {
    const answer = await ovsdbClient(socket, 2000).hwOffload();
    const facts: NodeFacts = {
      ovsHwOffload: !answer.reachable ? { state: 'unverified', detail: answer.why }
        : answer.value === 'true' ? { state: 'true', detail: 'OVSDB' }
        : { state: 'not true', detail: answer.value === undefined ? 'unset' : preview(answer.value, 80) },
    };
    const line = { ...base, ...judgeLine(entriesOf('node', 'ovs-hw-offload'), facts, PASSED['ovs-hw-offload']) };
    return answer.reachable ? line : { ...line, detail: `${line.detail}; --ovsdb SOCK names another` };
  } catch (err) {
    return { ...base, status: 'FAIL', detail: `OVSDB at ${socket} answered garbage: ${(err as Error).message}` };
  }
}

/**
 * A node or PF line from the catalogue (src/plugin/checks.ts), the words ADD refuses with: the
 * first of the line's entries that applies is a FAIL (a WARN for a warning), none a PASS.
 */
function judgeLine<F>(entries: Array<Rules<F>>, facts: F, passed: (f: F) => string): Pick<Check, 'status' | 'detail' | 'fix'> {
  const c = entries.find((e) => e.applies(facts));
  if (!c) return { status: 'PASS', detail: passed(facts) };
  const fix = c.fix?.(facts);
  return { status: c.code === 'warning' ? 'WARN' : 'FAIL', detail: c.detail(facts), ...(fix ? { fix: plain(fix) } : {}) };
}

/** The catalogue quotes commands in backticks for `kubectl describe pod`; a terminal line needs none. */
function plain(text: string): string {
  return text.replaceAll('`', '');
}

async function daemonCheck(socket: string): Promise<Check> {
  const r = await daemonListening(socket, 2000);
  return r.ok ? { scope: 'node', check: 'kube-ovn-daemon', status: 'PASS', detail: `${socket} accepts connections` }
    : { scope: 'node', check: 'kube-ovn-daemon', status: 'FAIL', detail: `no answer at ${socket} (${errnoOf(r.why)})`, fix: 'is the kube-ovn-cni pod of this node running? kubectl -n kube-system get pods -l app=kube-ovn-cni -o wide' };
}

/** "connect ENOENT /run/openvswitch/db.sock" → "ENOENT": the path is said once already. */
function errnoOf(why: string): string {
  return /\bE[A-Z]+\b/.exec(why)?.[0] ?? why;
}

async function pfChecks(host: Host, pf: PfInventory): Promise<Check[]> {
  const scope = `PF ${pf.pci}${pf.uplink ?? pf.netdevs[0] ? ` ${pf.uplink ?? pf.netdevs[0]}` : ''}`;
  const dev = pf.uplink ?? pf.netdevs[0];
  const [modeAnswer, ports, hwTc, bond, nm] = await Promise.all([
    devlinkEswitchMode(host.run, pf.pci),
    devlinkPorts(host.run),
    dev ? ethtoolHwTcOffload(host.run, dev) : undefined,
    dev ? bondOf(host.sysfs, dev) : undefined,
    dev ? networkManaged(host, dev) : undefined,
  ]);
  const eswitch = await eswitchModeOf(host.sysfs, modeAnswer, { uplink: pf.uplink, all: pf.netdevs });
  const checks: Check[] = [];
  const add = (check: string, status: Status, detail: string, fix?: string) => checks.push({ scope, check, status, detail, ...(fix ? { fix } : {}) });
  const addLine = (check: string, l: Pick<Check, 'status' | 'detail' | 'fix'>) => add(check, l.status, l.detail, l.fix);
  const numvfsPath = `/sys/bus/pci/devices/${pf.pci}/sriov_numvfs`;

  if (pf.numVfs <= 0) add('vfs', 'FAIL', `no VFs (sriov_totalvfs ${pf.totalVfs})`, `kube-ovn-offload setup --pf ${dev ?? pf.pci} --vfs N, or echo N > ${numvfsPath} (N ≤ ${pf.totalVfs})`);
  else if (pf.totalVfs > 0 && pf.numVfs > pf.totalVfs) add('vfs', 'FAIL', `${pf.numVfs} VFs, more than sriov_totalvfs ${pf.totalVfs}`);
  else add('vfs', 'PASS', `${pf.numVfs} of ${pf.totalVfs} VFs`);

  const facts: PfFacts = {
    pf: pf.pci, uplink: pf.uplink, netdevs: pf.netdevs, netdev: dev, eswitch, bond,
    hwTc: !hwTc ? { state: 'unverified', source: 'no answer' }
      : hwTc.value === undefined ? { state: 'unverified', source: hwTc.why }
      : { state: hwTc.value, source: hwTc.source },
  };
  // setup does every step of the switch to switchdev: doctor names it before the steps.
  const setup = (fix: string) => `kube-ovn-offload setup --pf ${dev ?? pf.pci} --vfs ${Math.max(pf.numVfs, 1)} (${fix})`;
  const switchdev = judgeLine(entriesOf('pf', 'switchdev'), facts, PASSED.switchdev);
  add('switchdev', switchdev.status, switchdev.detail, switchdev.fix && setup(switchdev.fix));

  if (!dev) add('hw-tc-offload', 'FAIL', 'the PF has no netdev', 'bind the PF to mlx5_core');
  else addLine('hw-tc-offload', judgeLine(entriesOf('pf', 'hw-tc-offload'), facts, PASSED['hw-tc-offload']));

  addLine('bond', judgeLine(entriesOf('pf', 'bond'), facts, PASSED.bond));

  const drivers = new Map<string, string[]>();
  for (const vf of pf.vfs) drivers.set(vf.driver || '(none)', [...(drivers.get(vf.driver || '(none)') ?? []), vf.pci]);
  const other = [...drivers].filter(([d]) => d !== 'mlx5_core' && d !== 'vfio-pci');
  const said = [...drivers].map(([d, v]) => `${v.length} on ${d}`).join(', ');
  if (pf.vfs.length === 0) add('vf-drivers', 'WARN', 'no VFs to look at');
  else if (other.length > 0) add('vf-drivers', 'FAIL', said, `echo <vf> > /sys/bus/pci/drivers/mlx5_core/bind for ${other.flatMap(([, v]) => v).join(' ')}`);
  else add('vf-drivers', 'PASS', drivers.has('vfio-pci') ? `${said} (vfio-pci VFs need "vf_driver": "vfio-pci" in the NAD)` : said);

  if (eswitch.mode === 'switchdev') {
    // The catalogue's representor entry, once per VF; one line for the PF.
    const entries = entriesOf('vf', 'representors');
    const devlinkWhy = 'why' in ports ? { devlinkWhy: ports.why } : {};
    const each = await Promise.all(pf.vfs.map(async (v): Promise<VfFacts> => ({
      ...facts, ...devlinkWhy,
      vf: { pci: v.pci, pf: pf.pci, index: v.index, netdevs: v.netdevs, driver: v.driver },
      representor: await findRepresentor(host.sysfs, ports, pf.pci, v.index),
    })));
    const failed = each.flatMap((f) => entries.filter((e) => e.applies(f)).slice(0, 1).map((e) => ({ detail: e.detail(f), fix: e.fix?.(f) })));
    if (failed.length > 0) add('representors', 'FAIL', `no representor for ${failed.map((x) => x.detail).join(', ')}`, plain(failed.flatMap((x) => x.fix ?? []).join('; ')));
    else add('representors', 'PASS', `${each.length} of ${pf.vfs.length}: ${each.map((f) => f.representor!.name).join(' ')}`);
  } else {
    add('representors', 'FAIL', 'none: representors exist only in switchdev mode', setup(plain(switchdevFix(facts))));
  }

  if (nm === 'managed') add('networkmanager', 'WARN', `NetworkManager manages ${dev}; it can upset the driver during the switch`, `nmcli device set ${dev} managed no (or systemctl stop NetworkManager)`);
  else add('networkmanager', 'PASS', nm === 'not running' ? 'NetworkManager is not running' : `NetworkManager does not manage ${dev ?? 'the PF'}`);
  return checks;
}

/** NetworkManager's per-device state in /run/NetworkManager/devices/<ifindex> ("managed=true"). */
async function networkManaged(host: Host, dev: string): Promise<'managed' | 'unmanaged' | 'not running'> {
  const run = host.path('run', 'NetworkManager');
  if ((await host.sysfs.list(run)).length === 0) return 'not running';
  const ifindex = await host.sysfs.read(host.sysfs.netdev(dev, 'ifindex'));
  const state = ifindex ? await host.sysfs.read(host.path('run', 'NetworkManager', 'devices', ifindex)) : undefined;
  return state && /^managed=(true|1)$/m.test(state) ? 'managed' : 'unmanaged';
}

function count(checks: Check[], s: Status): number {
  return checks.filter((c) => c.status === s).length;
}

const COLOURS: Record<Status, string> = { PASS: '\x1b[32m', WARN: '\x1b[33m', FAIL: '\x1b[31m' };

/** Aligned lines grouped by scope; colour only on a terminal. */
export function render(checks: Check[], colour: boolean): string {
  const width = Math.max(...checks.map((c) => c.check.length));
  const lines: string[] = [];
  let scope = '';
  for (const c of checks) {
    if (c.scope !== scope) {
      scope = c.scope;
      lines.push(colour ? `\x1b[1m${scope}\x1b[0m` : scope);
    }
    const status = colour ? `${COLOURS[c.status]}${c.status}\x1b[0m` : c.status;
    lines.push(`  ${status}  ${c.check.padEnd(width)}  ${c.detail}`);
    if (c.fix && c.status !== 'PASS') lines.push(`  ${' '.repeat(4)}  ${' '.repeat(width)}  fix: ${c.fix}`);
  }
  const [p, w, f] = (['PASS', 'WARN', 'FAIL'] as const).map((s) => count(checks, s));
  lines.push('', `PASS ${p}  WARN ${w}  FAIL ${f}`);
  return lines.join('\n') + '\n';
}
