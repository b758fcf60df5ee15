/**
 * `npm run bench:cri` (root): what a pod sandbox costs through containerd's CRI with the guard
 * chain [kube-ovn-offload, kube-ovn, portmap] on the simulated node, against the baseline of
 * docs/testing.md#through-a-real-container-runtime: bridge + host-local (+ portmap), the cheapest real network. Both
 * are measured in the same run, sequentially, each sandbox RunPodSandbox → Stop → Remove, and
 * the figures are written to bench/cri-results.md. Not part of `npm test`; nothing is asserted.
 *
 * The simulated node's devlink and ethtool are shell stand-ins here (bench/shell-tools.ts), as
 * in `npm run bench`; the kube-ovn daemon is the simulated one, plumbing real veths.
 *
 *   BENCH_RUNS=10 npm run bench:cri
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRig, finishRig, type Rig } from '../test/support/e2e.js';
import { startContainerd, type Containerd } from '../test/support/containerd.js';
import { podSandboxConfig } from '../test/support/cri/client.js';
import { KUBE_OVN_CNI } from '../test/support/kube-ovn-cni.js';
import { SEA_BIN } from '../test/support/plugin.js';
import { buildSimKernel } from '../test/support/sim-kernel-bundle.js';
import { shellTools } from './shell-tools.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const BRIDGE = 'kovobench0';

interface Lifecycle {
  run: number;
  stop: number;
  remove: number;
}

async function lifecycles(cd: Containerd, tag: string): Promise<Lifecycle[]> {
  const out: Lifecycle[] = [];
  for (let i = -2; i < RUNS; i++) {
    const config = podSandboxConfig(`${tag}-${i + 2}`, { cgroupParent: cd.cgroupParent });
    const run = await cd.cri.runPodSandbox(config);
    const stop = await cd.cri.stopPodSandbox(run.res.pod_sandbox_id);
    const remove = await cd.cri.removePodSandbox(run.res.pod_sandbox_id);
    if (i >= 0) out.push({ run: run.ms, stop: stop.ms, remove: remove.ms }); // two warm-up runs
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:cri runs containerd: run it as root');
  await buildSimKernel();
  const work = mkdtempSync(join(tmpdir(), 'kovo-bench-cri-'));
  let rig: Rig | undefined;
  let cd: Containerd | undefined;
  const plugins = { 'kube-ovn-offload': SEA_BIN, 'kube-ovn': KUBE_OVN_CNI, ...Object.fromEntries(['bridge', 'host-local', 'portmap', 'loopback'].map((p) => [p, `/usr/lib/cni/${p}`])) };
  try {
    rig = await createRig({ vfs: 2 });
    const env = { ...rig.env, ...(await shellTools(rig.node, work, { nsenter: false, path: 'node' })) };
    env.PATH = `${env.PATH}:/usr/sbin:/sbin`;
    const baseline = {
      cniVersion: '1.0.0',
      name: 'kube-ovn',
      plugins: [
        { type: 'bridge', bridge: BRIDGE, isGateway: false, ipMasq: false, ipam: { type: 'host-local', dataDir: join(work, 'ipam'), ranges: [[{ subnet: '10.244.77.0/24' }]] } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    };
    const rows: Array<[string, Lifecycle[]]> = [];
    for (const [label, doc] of [
      ['bridge + host-local + portmap (baseline)', baseline],
      ['guard: kube-ovn-offload + kube-ovn + portmap', rig.conflistDoc({ cniVersion: '1.0.0', deviceID: '0000:42:00.2' })],
    ] as const) {
      cd = await startContainerd({ plugins, conflists: { '10-kube-ovn.conflist': doc }, env });
      rows.push([label, await lifecycles(cd, label.startsWith('guard') ? 'guard' : 'bridge')]);
      await cd.stop();
      cd = undefined;
    }
    const base = median(rows[0]![1].map((l) => l.run));
    const table = [
      '| network | RunPodSandbox ms (median) | × baseline | StopPodSandbox ms | RemovePodSandbox ms |',
      '|---|---:|---:|---:|---:|',
      ...rows.map(([label, ls]) => `| ${label} | ${median(ls.map((l) => l.run)).toFixed(0)} | ${(median(ls.map((l) => l.run)) / base).toFixed(2)} | ${median(ls.map((l) => l.stop)).toFixed(0)} | ${median(ls.map((l) => l.remove)).toFixed(0)} |`),
    ];
    const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Linux ${release()}, Node ${process.version}`;
    const report = ['# CRI benchmark', '', `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench:cri\` on ${machine}: ${RUNS} sandboxes each after 2 warm-up ones, one after another, through Debian's containerd ${String((await execa('containerd', ['--version'], { timeout: 10_000 })).stdout).split(' ')[2]} and runc.`, '', ...table, ''].join('\n');
    process.stdout.write(report);
    if (!process.env.BENCH_NO_WRITE) writeFileSync(join(ROOT, 'bench/cri-results.md'), report);
  } finally {
    await cd?.stop().catch((err: Error) => console.error(err.message));
    await finishRig(rig).catch((err: Error) => console.error(err.message));
    await execa('ip', ['link', 'del', BRIDGE], { reject: false, timeout: 10_000 });
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
