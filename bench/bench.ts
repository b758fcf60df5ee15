/**
 * `npm run bench`: what a pod pays for kube-ovn-offload, as ratios against bare `node -e 0`
 * measured in the same run. Not part of `npm test`; no timing is asserted anywhere.
 *
 * The plugin runs in its default topology, guard (DESIGN §1.1): the offload checks, the per-VF
 * lock and record; kube-ovn's binary, which would follow it in the chain, is not measured.
 * The node is simulated: the fake sysfs of a ConnectX-5, a real ovsdb-server, and
 * devlink/ethtool/nsenter stand-ins that are shell scripts printing the real tools' output (a
 * real devlink is a small C program; the tests' Node fakes would cost a Node start-up each
 * and drown what is measured).
 *
 *   npm run bench                 # 30 runs per command, 200 pods at once
 *   BENCH_RUNS=10 BENCH_PODS=50 npm run bench
 */
import { execa } from 'execa';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimNode, connectx5 } from '../test/support/sim-node.js';
import { startOvsdb } from '../test/support/ovsdb-server.js';
import { shellTools } from './shell-tools.js';
import { holdNetns } from '../test/support/netns-holder.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUNDLE = join(ROOT, 'bin/kube-ovn-offload');
const SEA = join(ROOT, 'dist/kube-ovn-offload');
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const PODS = Number(process.env.BENCH_PODS ?? 200);

interface Sample {
  ms: number;
  rssKb: number;
  exitCode: number;
}

/** One process, timed from spawn to exit, its peak RSS from GNU time (%M, in KiB). */
async function once(cmd: string, args: string[], env: Record<string, string>, input?: string): Promise<Sample> {
  const rssFile = join(tmpdir(), `kovo-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const start = performance.now();
  const r = await execa('/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args], { env, extendEnv: false, reject: false, timeout: 120_000, ...(input === undefined ? { stdin: 'ignore' } : { input }) });
  const ms = performance.now() - start;
  const rssKb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
  rmSync(rssFile, { force: true });
  return { ms, rssKb, exitCode: r.exitCode ?? -1 };
}

function stats(xs: number[]): { median: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p95: at(0.95), max: s[s.length - 1]! };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'kovo-bench-'));
  const node = new SimNode({ pfs: [{ ...connectx5({ vfs: Math.max(PODS, 8) }), totalVfs: 1024 }] });
  const run = join(node.root, 'run');
  mkdirSync(run, { recursive: true });
  const ovs = await startOvsdb(run);
  await ovs.vsctl('set', 'Open_vSwitch', '.', 'other_config:hw-offload=true');
  const podNetns = holdNetns();
  try {
    const env = { ...(await shellTools(node, work, { nsenter: true, path: 'system' })), KUBE_OVN_OFFLOAD_STATE_DIR: join(work, 'state') };
    const conf = (deviceID: string) => JSON.stringify({ cniVersion: '1.0.0', name: 'kube-ovn', type: 'kube-ovn-offload', ovsdb_socket: ovs.socket, deviceID, log_level: 'error' });
    // A live netns of its own, as a pod's is while it is being deleted (the plugin refuses its own).
    await podNetns.ready;
    const cni = (command: string, cid: string) => ({
      ...env, CNI_COMMAND: command, CNI_CONTAINERID: cid, CNI_NETNS: podNetns.path, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin',
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${cid}`,
    });
    const vf0 = node.pf().vfs[0]!.pci;
    const targets: Array<[string, string]> = [['bundle', BUNDLE], ...(existsSync(SEA) ? [['single executable', SEA] as [string, string]] : [])];

    // Warm the page cache first, then interleave the commands so drift hits them alike.
    const rows = new Map<string, Sample[]>();
    const add = (name: string, s: Sample) => rows.set(name, [...(rows.get(name) ?? []), s]);
    for (let i = -3; i < RUNS; i++) {
      const keep = i >= 0;
      const base = await once(process.execPath, ['-e', '0'], env);
      if (keep) add('node -e 0', base);
      for (const [label, bin] of targets) {
        const v = await once(bin, [], cni('VERSION', 'x'), '{"cniVersion":"1.0.0"}');
        const cid = `bench${String(i + 10).padStart(7, '0')}abcdef`;
        const a = await once(bin, [], cni('ADD', cid), conf(vf0));
        const d = await once(bin, [], cni('DEL', cid), conf(vf0));
        if (a.exitCode !== 0 || d.exitCode !== 0) throw new Error(`${label}: ADD/DEL failed (exit ${a.exitCode}/${d.exitCode})`);
        if (keep) {
          add(`VERSION, ${label}`, v);
          add(`ADD, ${label}`, a);
          add(`DEL, ${label}`, d);
        }
      }
    }

    const base = stats(rows.get('node -e 0')!.map((s) => s.ms)).median;
    const baseRss = stats(rows.get('node -e 0')!.map((s) => s.rssKb)).median;
    const table = ['| command | median ms | p95 ms | × node -e 0 | peak RSS MiB (median) | × node -e 0 |', '|---|---:|---:|---:|---:|---:|'];
    for (const [name, samples] of rows) {
      const t = stats(samples.map((s) => s.ms));
      const r = stats(samples.map((s) => s.rssKb));
      table.push(`| ${name} | ${t.median.toFixed(1)} | ${t.p95.toFixed(1)} | ${(t.median / base).toFixed(2)} | ${(r.median / 1024).toFixed(1)} | ${(r.median / baseRss).toFixed(2)} |`);
    }

    // PODS pods at once, each ADD then DEL on its own VF, on this 2-core machine.
    const [label, bin] = targets[targets.length - 1]!;
    const addOnly = stats(rows.get(`ADD, ${label}`)!.map((s) => s.ms)).median;
    const delOnly = stats(rows.get(`DEL, ${label}`)!.map((s) => s.ms)).median;
    const cores = cpus().length;
    const started = performance.now();
    const results = await Promise.all(node.pf().vfs.slice(0, PODS).map(async (vf, i) => {
      const cid = `burst${String(i).padStart(7, '0')}abcdef`;
      const t0 = performance.now();
      const a = await execa(bin, [], { env: cni('ADD', cid), extendEnv: false, input: conf(vf.pci), reject: false, timeout: 300_000 });
      const d = await execa(bin, [], { env: cni('DEL', cid), extendEnv: false, input: conf(vf.pci), reject: false, timeout: 300_000 });
      return { ok: a.exitCode === 0 && d.exitCode === 0, ms: performance.now() - t0, err: a.exitCode === 0 ? String(d.stdout) : String(a.stdout) };
    }));
    const wall = performance.now() - started;
    const failed = results.filter((r) => !r.ok);
    const leftovers = existsSync(join(work, 'state', 'vf')) ? (await execa('ls', [join(work, 'state', 'vf')])).stdout.split('\n').filter(Boolean).length : 0;
    const ideal = (PODS * (addOnly + delOnly)) / cores; // every core busy, no contention
    const burst = [
      `| ${PODS} ADD+DEL at once (${label}) | |`,
      '|---|---|',
      `| wall time | ${(wall / 1000).toFixed(2)} s |`,
      `| throughput | ${(PODS / (wall / 1000)).toFixed(1)} pods/s |`,
      `| slowest pod (ADD+DEL) | ${(Math.max(...results.map((r) => r.ms)) / 1000).toFixed(2)} s |`,
      `| failed | ${failed.length}${failed.length ? ` (first: ${failed[0]!.err.slice(0, 120)})` : ''} |`,
      `| state records left | ${leftovers} |`,
      `| × ideal (${PODS} × single ADD+DEL / ${cores} cores = ${(ideal / 1000).toFixed(2)} s) | ${(wall / ideal).toFixed(2)} |`,
    ];

    const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
    const report = [
      '# Benchmark results',
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench\` on ${machine}.`,
      `${RUNS} runs per command after 3 warm-up runs, interleaved; the guard topology on the simulated node of bench/bench.ts (shell stand-ins for devlink/ethtool/nsenter, a real ovsdb-server).`,
      '',
      ...table,
      '',
      ...burst,
      '',
    ].join('\n');
    process.stdout.write(report);
    if (!process.env.BENCH_NO_WRITE) writeFileSync(join(ROOT, 'bench/results.md'), report);
    if (failed.length > 0) process.exitCode = 1;
  } finally {
    await podNetns.destroy();
    await ovs.stop();
    node.remove();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
