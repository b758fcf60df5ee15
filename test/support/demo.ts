/**
 * The demo (README Quick start): the guard chain [kube-ovn-offload, kube-ovn, portmap] doing a
 * real ADD → CHECK → DEL on a simulated node, through libcni, with kube-ovn's binary (our
 * test-only stand-in) and the strict simulated daemon after the plugin; then the plugin
 * refusing a pod on a node whose uplink has hw-tc-offload off, before kube-ovn is ever asked.
 * Needs root (it makes a netns and veth pairs); removes all it made, also on Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { buildCnitool, createRig, isRoot, NAD, type CnitoolOutcome, type Rig } from './e2e.js';
import { buildKubeOvnCni } from './kube-ovn-cni.js';
import { buildSimKernel } from './sim-kernel-bundle.js';

const VF = '0000:42:00.2';
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function show(step: string, out: CnitoolOutcome): void {
  console.log(`\n${bold(`$ cnitool ${step}`)}  → exit ${out.exitCode}`);
  if (out.json) console.log(JSON.stringify(out.json, null, 2));
  if (out.error) console.log(JSON.stringify(out.error, null, 2));
  else if (out.exitCode !== 0) console.log(out.stderr.trim());
}

async function main(): Promise<number> {
  if (!isRoot) {
    console.error('demo: run as root (it creates a network namespace and veth pairs)');
    return 1;
  }
  await buildCnitool();
  await buildKubeOvnCni();
  await buildSimKernel();
  let rig: Rig | undefined;
  const stop = () => void rig?.cleanup().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    rig = await createRig({ vfs: 2 });
    const pf = rig.node.pf();
    console.log(bold('Simulated node'));
    console.log(`  PF ${pf.pci} (ConnectX-5, uplink ${pf.uplink}), eSwitch ${pf.mode}, hw-tc-offload ${pf.hwTc}`);
    for (const vf of pf.vfs) console.log(`  VF ${vf.index}: ${vf.pci} netdev ${vf.netdev} ↔ representor ${vf.rep} (a real veth pair)`);
    console.log(`  fake sysfs under ${rig.node.root}; simulated kube-ovn daemon on ${rig.socket}`);
    console.log(`  cluster: NAD ${NAD.guard.namespace}/${NAD.guard.name} with kube-ovn in its list, its Subnet (provider default.default.ovn, 10.17.0.0/16), pods annotated with it`);

    const ns = await rig.netns();
    const nsName = ns.split('/').pop()!;
    rig.conflist({ cniVersion: '1.0.0', deviceID: VF });
    console.log(`\n${bold('Conflist')} [kube-ovn-offload (mode guard), kube-ovn, portmap], deviceID ${VF} in every plugin as Multus injects it; pod netns ${ns}`);

    const add = await rig.cnitool('add', ns);
    show('add', add);
    if (add.exitCode !== 0) return 1;
    const addr = await execa('ip', ['-n', nsName, '-br', 'addr', 'show', 'dev', 'eth0'], { timeout: 10_000 });
    const route = await execa('ip', ['-n', nsName, 'route', 'show', 'default'], { timeout: 10_000 });
    console.log(`\n${bold(`$ ip -n ${nsName} -br addr show dev eth0`)}\n${String(addr.stdout)}`);
    console.log(`${bold(`$ ip -n ${nsName} route show default`)}\n${String(route.stdout)}`);
    console.log(`${bold('$ ovs-vsctl list-ports br-int')}  (the representor, renamed by kube-ovn)\n${await rig.ovs.vsctl('list-ports', 'br-int')}`);

    const check = await rig.cnitool('check', ns);
    show('check', check);
    const del = await rig.cnitool('del', ns);
    show('del', del);
    const vf0 = rig.node.vf(VF).vf;
    console.log(`VF ${VF} is ${vf0.netdev ? `back in the host netns as ${vf0.netdev}` : 'NOT back in the host netns'}; its MAC on the PF is ${vf0.adminMac}.`);

    console.log(`\n${bold('Now the uplink loses hw-tc-offload')} (ethtool -K ${pf.uplink} hw-tc-offload off):`);
    rig.node.setHwTc(pf.pci, 'off');
    const before = rig.daemon.requests.length;
    const refused = await rig.cnitool('add', await rig.netns());
    show('add', refused);
    console.log(`kube-ovn's daemon was asked ${rig.daemon.requests.length - before} time(s) for this pod: the chain stopped at kube-ovn-offload.`);
    const lines = readFileSync(rig.logFile, 'utf8').trim().split('\n');
    console.log(`\n${bold('The plugin\'s log')} (log_file, one JSON line per event; the last one):\n${lines.at(-1)}`);
    const ok = add.exitCode === 0 && check.exitCode === 0 && del.exitCode === 0 && refused.error?.code === 104 && rig.daemon.requests.length === before;
    console.log(ok ? '\nDemo complete: ADD, CHECK and DEL succeeded through the guard chain, and the pod without offload was refused.' : '\nDemo FAILED.');
    return ok ? 0 : 1;
  } finally {
    await rig?.cleanup();
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
