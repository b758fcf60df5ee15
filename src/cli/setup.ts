import { writeFile } from 'node:fs/promises';
import { devlinkEswitchMode } from '../node/devlink.js';
import { eswitchModeOf } from '../node/eswitch.js';
import { ethtoolHwTcOffload } from '../node/features.js';
import { mellanoxPfs, pickPf, type PfInventory } from '../node/inventory.js';
import { StateStore } from '../plugin/state.js';
import { diagnose, render } from './doctor.js';
import { hostFromEnv, parseFlags, UsageError, type CliIo, type Command, type Host } from './host.js';

const HELP = `kube-ovn-offload setup --pf DEV --vfs N [--apply] [--emit-systemd]

The "Setup SR-IOV" steps of Kube-OVN's Mellanox offload guide as a plan of shell commands:
create N VFs, unbind them from mlx5_core, set the eSwitch to switchdev, turn hw-tc-offload
on, bind the VFs again, then run doctor. Steps already in the desired state are marked
skipped. None of it survives a reboot: see --emit-systemd.

Options:
  --pf DEV          the PF: its PCI address or netdev (e.g. enp66s0f0np0)
  --vfs N           how many VFs (at most sriov_totalvfs)
  --apply           run the plan, in order; stop at the first failure and say how to undo
  --emit-systemd    print a systemd unit that applies this plan at boot, and nothing else
  --state-dir DIR   the plugin's state_dir, to refuse while a pod uses a VF of this PF
                    (default /var/lib/cni/kube-ovn-offload)

Without --apply nothing is changed. Exit status: 0 done (or planned), 1 a step failed or
a VF is in use, 2 a usage error.
`;

export interface Step {
  title: string;
  /** The commands as an operator would type them. */
  commands: string[];
  /** Already in the desired state. */
  skip: boolean;
  /** Runs the step (sysfs writes under the root, tools on PATH); throws on failure. */
  apply: () => Promise<void>;
  /** How to go back, shown when a later step fails. */
  undo: string[];
}

export const setup: Command = {
  name: 'setup',
  summary: 'plan or apply the SR-IOV switchdev set-up of a PF',
  help: HELP,
  async run(io: CliIo): Promise<number> {
    const values = parseFlags(io.argv, { pf: { type: 'string' }, vfs: { type: 'string' }, apply: { type: 'boolean' }, 'emit-systemd': { type: 'boolean' }, 'state-dir': { type: 'string' } });
    if (!values.pf) throw new UsageError('--pf is required');
    if (values.vfs === undefined || !/^\d+$/.test(values.vfs) || Number(values.vfs) < 1) throw new UsageError('--vfs needs a whole number of at least 1');
    const host = hostFromEnv(io.env);
    const pf = pickPf(await mellanoxPfs(host.sysfs), values.pf);
    if (!pf) throw new UsageError(`no Mellanox PF ${JSON.stringify(values.pf)} on this node`);
    const want = Number(values.vfs);
    if (pf.totalVfs > 0 && want > pf.totalVfs) throw new UsageError(`--vfs ${want} is more than sriov_totalvfs ${pf.totalVfs} of ${pf.pci}`);
    const dev = pf.uplink ?? pf.netdevs[0];
    if (values['emit-systemd']) {
      io.out(systemdUnit(dev ?? pf.pci, want));
      return 0;
    }

    const records = await new StateStore(values['state-dir'] ?? host.stateDir).all();
    const inUse = records.attachments.filter((a) => a.pf === pf.pci);
    if (values.apply && records.unreadable.length > 0) {
      io.err(`setup: refusing to change ${pf.pci}: records of VFs ${records.unreadable.map((u) => u.pci).join(', ')} cannot be read, so it cannot tell whether a pod uses one\n`);
      return 1;
    }
    if (values.apply && inUse.length > 0) {
      io.err(`setup: refusing to change ${pf.pci}: ${inUse.length} VF(s) are in use by pods: ${inUse.map((a) => `${a.pod.namespace}/${a.pod.name} (${a.deviceID})`).join(', ')}\nDrain the node first (kubectl drain), then run setup again.\n`);
      return 1;
    }
    const steps = await plan(host, pf, want);
    io.out(`# setup of ${pf.pci}${dev ? ` (${dev})` : ''}: ${want} VFs in switchdev with hw-tc-offload${values.apply ? '' : ' — plan only, run again with --apply'}\n`);
    if (!values.apply) {
      for (const s of steps) io.out(`\n# ${s.title}${s.skip ? ' — skipped, already done' : ''}\n${s.commands.map((c) => (s.skip ? `# ${c}` : c)).join('\n')}\n`);
      io.out(`\n# then check: kube-ovn-offload doctor --pf ${dev ?? pf.pci}\n`);
      return 0;
    }
    const done: Step[] = [];
    for (const s of steps) {
      if (s.skip) {
        io.out(`skip  ${s.title} (already done)\n`);
        continue;
      }
      try {
        await s.apply();
        done.push(s);
        io.out(`done  ${s.title}\n`);
      } catch (err) {
        io.out(`FAIL  ${s.title}: ${(err as Error).message}\n`);
        const undo = [...done].reverse().flatMap((d) => d.undo);
        io.err(`setup stopped. Done before the failure: ${done.length ? done.map((d) => d.title).join('; ') : 'nothing'}.\n${undo.length ? `To undo:\n${undo.map((u) => `  ${u}`).join('\n')}\n` : ''}`);
        return 1;
      }
    }
    io.out('\n');
    const checks = await diagnose(host, { pf: pf.pci, ovsdb: host.path('run', 'openvswitch', 'db.sock'), daemon: host.path('run', 'openvswitch', 'kube-ovn-daemon.sock') });
    io.out(render(checks.filter((c) => c.scope !== 'node' || c.check === 'mellanox-pf'), io.isTTY));
    return checks.some((c) => c.status === 'FAIL' && c.scope !== 'node') ? 1 : 0;
  },
};

/** The seed's steps for this PF, each marked skip when the node already has it. */
export async function plan(host: Host, pf: PfInventory, want: number): Promise<Step[]> {
  const dev = pf.uplink ?? pf.netdevs[0] ?? '<pf-netdev>';
  const [modeAnswer, hwTc] = await Promise.all([devlinkEswitchMode(host.run, pf.pci), ethtoolHwTcOffload(host.run, dev)]);
  const mode = (await eswitchModeOf(host.sysfs, modeAnswer, { uplink: pf.uplink, all: pf.netdevs })).mode;
  const numvfs = `/sys/bus/pci/devices/${pf.pci}/sriov_numvfs`;
  const sysWrite = (path: string, value: string) => writeFile(host.path(path.slice(1)), `${value}\n`);
  const tool = async (name: string, args: string[]) => {
    const r = await host.run(name, args);
    if (r === 'absent') throw new Error(`${name} is not installed`);
    if (r.exitCode !== 0) throw new Error(`${name} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  };
  // The VFs bound to mlx5_core: known now when the count is already right, else after step 1.
  const known = pf.numVfs === want ? pf.vfs.filter((v) => v.driver === 'mlx5_core').map((v) => v.pci) : ['<each new VF>'];
  // VFs with no driver: left by an earlier run that stopped between unbind and bind.
  const driverless = pf.vfs.filter((v) => !v.driver).map((v) => v.pci);
  const switching = mode !== 'switchdev';
  const unbind = async () => {
    const now = pickPf(await mellanoxPfs(host.sysfs), pf.pci)?.vfs ?? [];
    for (const v of now.filter((v) => v.driver === 'mlx5_core')) await sysWrite('/sys/bus/pci/drivers/mlx5_core/unbind', v.pci);
  };
  // Binds every VF of the PF that has no driver now, whoever unbound it: a re-run after a
  // failure between the two steps finishes the job.
  const bind = async () => {
    const now = pickPf(await mellanoxPfs(host.sysfs), pf.pci)?.vfs ?? [];
    for (const v of now.filter((v) => !v.driver)) await sysWrite('/sys/bus/pci/drivers/mlx5_core/bind', v.pci);
  };

  return [
    {
      title: `create ${want} VFs (now ${pf.numVfs})`,
      // The kernel refuses a change from one non-zero count to another: go through 0.
      commands: [...(pf.numVfs > 0 && pf.numVfs !== want ? [`echo 0 > ${numvfs}`] : []), `echo ${want} > ${numvfs}`],
      skip: pf.numVfs === want,
      apply: async () => {
        if (pf.numVfs > 0) await sysWrite(numvfs, '0');
        await sysWrite(numvfs, String(want));
      },
      undo: [`echo 0 > ${numvfs}`],
    },
    {
      title: 'unbind the VFs from mlx5_core',
      commands: known.map((v) => `echo ${v} > /sys/bus/pci/drivers/mlx5_core/unbind`),
      skip: !switching,
      apply: unbind,
      undo: ['rebind them: echo <vf> > /sys/bus/pci/drivers/mlx5_core/bind'],
    },
    {
      title: 'set the eSwitch to switchdev',
      commands: [`devlink dev eswitch set pci/${pf.pci} mode switchdev`],
      skip: !switching,
      apply: () => tool('devlink', ['dev', 'eswitch', 'set', `pci/${pf.pci}`, 'mode', 'switchdev']),
      undo: [`devlink dev eswitch set pci/${pf.pci} mode legacy`],
    },
    {
      title: `turn hw-tc-offload on, on ${dev}`,
      commands: [`ethtool -K ${dev} hw-tc-offload on`],
      skip: hwTc.value === 'on',
      apply: () => tool('ethtool', ['-K', dev, 'hw-tc-offload', 'on']),
      undo: [`ethtool -K ${dev} hw-tc-offload off`],
    },
    {
      title: 'bind the VFs to mlx5_core again',
      commands: (switching ? [...new Set([...known, ...driverless])] : driverless).map((v) => `echo ${v} > /sys/bus/pci/drivers/mlx5_core/bind`),
      skip: !switching && driverless.length === 0,
      apply: bind,
      undo: [],
    },
  ];
}

/** A oneshot unit that applies the plan at boot, before the kubelet starts pods. */
export function systemdUnit(pf: string, vfs: number): string {
  return `# /etc/systemd/system/kube-ovn-offload-setup@${pf}.service — written by kube-ovn-offload setup --emit-systemd
[Unit]
Description=SR-IOV switchdev set-up of ${pf} for Kube-OVN hardware offload
After=network-pre.target systemd-udev-settle.service
Before=kubelet.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/opt/cni/bin/kube-ovn-offload setup --pf ${pf} --vfs ${vfs} --apply

[Install]
WantedBy=multi-user.target
`;
}
