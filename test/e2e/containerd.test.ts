/**
 * The kubelet's path, as root: containerd's CRI plugin (Debian's containerd 1.6 + runc) runs pod
 * sandboxes whose network is the guard conflist [kube-ovn-offload, kube-ovn, portmap] with the
 * VF Multus would have injected, on the simulated node (its sysfs root and fake tools reach
 * the plugins through containerd's own environment). The calls are the kubelet's, through our
 * small CRI client: RunPodSandbox → PodSandboxStatus → StopPodSandbox → RemovePodSandbox.
 * containerd sends a second DEL with an empty netns, shuffles CNI_ARGS, runs sandboxes in
 * parallel and kills a plugin at the caller's deadline; cnitool does none of that.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRig, finishRig, isRoot, linkInfo, type Rig } from '../support/e2e.js';
import { startContainerd, pidsWith, type Containerd } from '../support/containerd.js';
import { CriCallError, podSandboxConfig, sandboxNetns } from '../support/cri/client.js';
import { KUBE_OVN_CNI } from '../support/kube-ovn-cni.js';
import { SEA_BIN } from '../support/plugin.js';
import { INSTALLER_ARCHIVE, INSTALLER_REF, installerImageProblem } from '../support/installer-image.js';
import { execa } from 'execa';

const VF0 = '0000:42:00.2';
const CONFLIST = '10-kube-ovn.conflist';
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
/** A network for containerd to be NetworkReady with; hostNetwork pods never use it. */
const LOOPBACK_ONLY = { cniVersion: '1.0.0', name: 'lo-only', plugins: [{ type: 'loopback' }] };

describe.skipIf(!isRoot)('containerd\'s CRI drives the guard chain (root)', () => {
  let rig: Rig;
  let cd: Containerd;
  let vfName: string;
  const records = () => (existsSync(join(rig.stateDir, 'vf')) ? readdirSync(join(rig.stateDir, 'vf')) : []);
  const pod = (name: string) => podSandboxConfig(name, { cgroupParent: cd.cgroupParent });
  /** RunPodSandbox, the error the kubelet would show when it fails. */
  const run = async (name: string, deadlineMs?: number) => {
    const config = pod(name);
    try {
      const r = await cd.cri.runPodSandbox(config, deadlineMs);
      return { id: r.res.pod_sandbox_id, ms: r.ms, config };
    } catch (err) {
      if (err instanceof CriCallError) return { error: err, config };
      throw err;
    }
  };
  const stopAndRemove = async (id: string) => {
    await cd.cri.stopPodSandbox(id);
    await cd.cri.removePodSandbox(id);
  };

  beforeAll(async () => {
    rig = await createRig({ vfs: 2 });
    vfName = rig.node.vf(VF0).vf.netdev!;
    // What Multus would hand the list for a pod given VF0; containerd passes it as it is.
    const doc = rig.conflistDoc({ cniVersion: '1.0.0', deviceID: VF0 });
    cd = await startContainerd({
      plugins: { 'kube-ovn-offload': SEA_BIN, 'kube-ovn': KUBE_OVN_CNI, portmap: '/usr/lib/cni/portmap', loopback: '/usr/lib/cni/loopback' },
      conflists: { [CONFLIST]: doc },
      env: { ...rig.env, PATH: `${rig.env.PATH}:/usr/sbin:/sbin` },
    });
  }, 300_000);

  // A test that failed half-way leaves no sandbox, broken node or record to the next one.
  afterEach(async () => {
    if (!cd) return;
    for (const s of (await cd.cri.listPodSandbox()).res.items) await stopAndRemove(s.id).catch(() => undefined);
    rig.node.setHwTc('0000:42:00.0', 'on');
    rig.node.setTool('devlink', 'ok');
    expect(records()).toEqual([]);
  });

  afterAll(async () => {
    const socket = cd?.socket;
    try {
      await cd?.stop();
    } finally {
      await finishRig(rig);
    }
    expect(socket && pidsWith(socket)).toEqual([]);
  }, 120_000);

  it('RunPodSandbox → PodSandboxStatus shows the daemon\'s address; the sandbox\'s netns has the VF as eth0 with it', async () => {
    const r = await run('web-0');
    expect(r.error).toBeUndefined();
    const status = await cd.cri.podSandboxStatus(r.id!);
    expect(status.res.status).toMatchObject({ state: 'SANDBOX_READY', network: { ip: '10.17.0.2' } });
    const netns = sandboxNetns(status.res.info)!;
    expect(netns.startsWith(`${cd.dir}/state/io.containerd.grpc.v1.cri/netns/cni-`)).toBe(true);
    const eth0 = await linkInfo('eth0', netns);
    expect(eth0).toMatchObject({ ifalias: vfName });
    expect(eth0!.addr_info).toContainEqual(expect.objectContaining({ family: 'inet', local: '10.17.0.2', prefixlen: 16 }));
    expect(await linkInfo(vfName)).toBeUndefined();
    // containerd passed the sandbox ID and the pod's identity, in whatever order it chose.
    const add = rig.daemon.requests.find((q) => q.path === '/api/v1/add')!.body;
    expect(add).toMatchObject({ container_id: r.id, pod_name: 'web-0', pod_namespace: 'default', net_ns: netns, deviceID: VF0 });

    // StopPodSandbox, then RemovePodSandbox: two DELs, the second with an empty netns.
    await stopAndRemove(r.id!);
    const dels = rig.daemon.requests.filter((q) => q.path === '/api/v1/del').map((q) => q.body.net_ns);
    expect(dels).toEqual([netns, '']);
    expect(records()).toEqual([]);
    expect(await linkInfo(vfName)).toBeDefined(); // back on the host
    expect(cd.netnsLeft()).toEqual([]);
  });

  it('refuses a pod on a node with hw-tc-offload off: the CRI error names the cause and the fix (104), nothing is left', async () => {
    rig.node.setHwTc('0000:42:00.0', 'off');
    const r = await run('web-1');
    expect(r.error).toBeInstanceOf(CriCallError);
    const { details } = r.error!;
    expect(details).toContain('plugin type="kube-ovn-offload" failed (add)');
    expect(details).toContain(`hw-tc-offload is off on uplink ${rig.node.pf().uplink}`);
    expect(details).toContain(`ethtool -K ${rig.node.pf().uplink} hw-tc-offload on`);
    expect((await cd.cri.listPodSandbox()).res.items).toEqual([]);
    expect(records()).toEqual([]);
    expect(await linkInfo(vfName)).toBeDefined();
    expect(cd.netnsLeft()).toEqual([]);
  });

  it('10 sandboxes at once for one VF: exactly one runs, the others are told the VF is still attached (11); then the next one runs', async () => {
    const tries = await Promise.all(Array.from({ length: 10 }, (_, i) => run(`race-${i}`)));
    const winners = tries.filter((t) => t.id);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    for (const t of tries.filter((x) => x.error)) {
      expect(t.error!.details).toContain(`VF ${VF0} is still attached to pod default/${winner.config.metadata.name}`);
    }
    expect(records()).toEqual([`${VF0}.json`]);
    // The refused pods' DELs (kube-ovn's resets the VF's MAC through the PF; ours puts it back).
    const netns = sandboxNetns((await cd.cri.podSandboxStatus(winner.id!)).res.info)!;
    const eth0 = await linkInfo('eth0', netns);
    expect(rig.node.vf(VF0).vf.adminMac).toBe(eth0!.address);

    await stopAndRemove(winner.id!);
    const next = await run('race-next');
    expect(next.error).toBeUndefined();
    await stopAndRemove(next.id!);
    expect(records()).toEqual([]);
    expect(cd.netnsLeft()).toEqual([]);
  }, 120_000);

  it('a plugin killed at the caller\'s deadline leaves no child holding containerd\'s pipe: containerd moves on within 1 s of it', async () => {
    rig.node.setTool('devlink', 'hang'); // the plugin waits tool_timeout_s (10 s) for it
    const deadlineMs = 3_000;
    const started = Date.now();
    try {
      const r = await run('slow-0', deadlineMs);
      expect(r.error?.code).toBe(4); // DEADLINE_EXCEEDED, as the kubelet sees it
      // containerd's clean-up DEL after the failed ADD reaches the daemon (through kube-ovn's
      // binary) only once containerd has reaped the killed plugin: a child holding its stdout
      // pipe would hold it up until that child ends (the hung devlink never does).
      await waitFor(async () => rig.daemon.requests.some((q) => q.path === '/api/v1/del' && q.body.pod_name === 'slow-0'), 30_000);
      const delAt = rig.daemon.requests.find((q) => q.path === '/api/v1/del' && q.body.pod_name === 'slow-0')!.at;
      expect(delAt - started).toBeLessThan(deadlineMs + 1_000);
      await waitFor(async () => /plugin type=\\?"kube-ovn-offload\\?" failed \(add\):.*signal: killed/.test(cd.log()), 30_000);
    } finally {
      // The hung fake devlink outlives the plugin SIGKILL'd above (a child gets no signal when
      // its parent dies); it is the test's to end.
      for (const pid of pidsWith(join(rig.node.root, 'bin', 'devlink'))) process.kill(pid, 'SIGKILL');
    }
    await waitFor(async () => (await cd.cri.listPodSandbox()).res.items.length === 0 && cd.netnsLeft().length === 0, 30_000);
    expect(records()).toEqual([]);
  }, 60_000);
});

describe.skipIf(!isRoot)('the installer image, run by containerd as the DaemonSet runs it (root)', () => {
  let cd: Containerd | undefined;
  let hostBin: string;
  let logs: string;
  const target = () => join(hostBin, 'kube-ovn-offload');
  const sea = () => readFileSync(SEA_BIN);

  beforeAll(async () => {
    const problem = installerImageProblem();
    if (problem) throw new Error(`the installer image was not built by the test set-up: ${problem}`);
    hostBin = mkdtempSync(join(tmpdir(), 'kovo-opt-cni-bin-')); // stands for the node's /opt/cni/bin
    logs = mkdtempSync(join(tmpdir(), 'kovo-pod-logs-'));
    cd = await startContainerd({ plugins: { loopback: '/usr/lib/cni/loopback' }, conflists: { [CONFLIST]: LOOPBACK_ONLY }, env: { PATH: '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } });
    await cd.ctr('images', 'import', INSTALLER_ARCHIVE);
  }, 300_000);

  afterAll(async () => {
    try {
      await cd?.stop();
    } finally {
      if (hostBin) rmSync(hostBin, { recursive: true, force: true });
      if (logs) rmSync(logs, { recursive: true, force: true });
    }
  }, 120_000);

  /**
   * The DaemonSet's pod (hostNetwork, the host's /opt/cni/bin mounted at /host/opt/cni/bin, its
   * CNI_BIN_DIR), its container started; `done` stops and removes both.
   */
  const startInstaller = async (name: string, env: Record<string, string>) => {
    const client = cd!.cri;
    const sandboxConfig = podSandboxConfig(name, { namespace: 'kube-system', cgroupParent: cd!.cgroupParent, hostNetwork: true, logDirectory: logs });
    const sandbox = (await client.runPodSandbox(sandboxConfig)).res.pod_sandbox_id;
    const created = await client.createContainer(sandbox, {
      metadata: { name: 'install-cni', attempt: 0 },
      image: { image: INSTALLER_REF },
      command: ['/usr/local/bin/install-cni.sh'],
      args: [],
      envs: Object.entries({ CNI_BIN_DIR: '/host/opt/cni/bin', ...env }).map(([key, value]) => ({ key, value })),
      mounts: [{ container_path: '/host/opt/cni/bin', host_path: hostBin, readonly: false }],
      log_path: `${name}.log`,
    }, sandboxConfig);
    const id = created.res.container_id;
    await client.startContainer(id);
    return {
      id,
      log: () => readFileSync(join(logs, `${name}.log`), 'utf8'),
      exited: async () => {
        let status = (await client.containerStatus(id)).res.status;
        for (const deadline = Date.now() + 60_000; status.state !== 'CONTAINER_EXITED' && Date.now() < deadline; status = (await client.containerStatus(id)).res.status) {
          await new Promise((r) => setTimeout(r, 100));
        }
        return status;
      },
      done: async () => {
        await client.removeContainer(id);
        await client.stopPodSandbox(sandbox);
        await client.removePodSandbox(sandbox);
      },
    };
  };

  it('installs the plugin into the host path whole (never a partial file at the name) and its version runs', async () => {
    const sizes = new Set<number>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        if (existsSync(target())) sizes.add(statSync(target()).size);
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    try {
      const installer = await startInstaller('installer-0', { INSTALL_ONLY: '1' });
      const status = await installer.exited();
      expect(status).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 0 });
      expect(installer.log()).toContain(`installed kube-ovn-offload ${VERSION} at /host/opt/cni/bin/kube-ovn-offload`);
      await installer.done();
    } finally {
      watching = false;
      await watcher;
    }
    expect([...sizes]).toEqual([sea().length]);
    expect(readFileSync(target()).equals(sea())).toBe(true);
    expect(statSync(target()).mode & 0o777).toBe(0o755);
    expect(readdirSync(hostBin)).toEqual(['kube-ovn-offload']); // no temporary file left
    expect(String((await execa(target(), ['version'], { timeout: 30_000 })).stdout)).toBe(`kube-ovn-offload ${VERSION}`);
  }, 120_000);

  it('replaces an older copy by rename while that copy is running, which runs on to its end', async () => {
    // An older build at the name (same version, other bytes), running for a pod: it waits on stdin.
    writeFileSync(`${target()}.older`, Buffer.concat([sea(), Buffer.from('\n')]), { mode: 0o755 });
    renameSync(`${target()}.older`, target());
    const running = execa(target(), [], { env: { CNI_COMMAND: 'VERSION' }, extendEnv: false, stdin: 'pipe', timeout: 60_000, reject: false });
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(running.exitCode).toBeNull();
      const installer = await startInstaller('installer-1', { INSTALL_ONLY: '1' });
      expect(await installer.exited()).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 0 });
      expect(installer.log()).toContain(`replaced kube-ovn-offload ${VERSION} with kube-ovn-offload ${VERSION} at /host/opt/cni/bin/kube-ovn-offload`);
      await installer.done();
      expect(readFileSync(target()).equals(sea())).toBe(true);
      running.stdin!.end('{"cniVersion":"1.0.0"}');
      const done = await running;
      expect(done.exitCode).toBe(0);
      expect(JSON.parse(String(done.stdout))).toMatchObject({ cniVersion: '1.0.0', supportedVersions: expect.arrayContaining(['1.0.0']) });
    } finally {
      running.kill('SIGKILL');
    }
  }, 120_000);

  it('stays up as the DaemonSet keeps it, and stops at once on StopContainer (its TERM trap)', async () => {
    const installer = await startInstaller('installer-2', {});
    try {
      await waitFor(async () => installer.log().includes('waiting; to check this node'), 30_000);
      expect((await cd!.cri.containerStatus(installer.id)).res.status.state).toBe('CONTAINER_RUNNING');
      const stop = await cd!.cri.stopContainer(installer.id, 5);
      expect(stop.ms).toBeLessThan(2_000); // well before the 5 s grace period
      expect((await cd!.cri.containerStatus(installer.id)).res.status).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 0 });
    } finally {
      await installer.done();
    }
  }, 120_000);
});

describe.skipIf(!isRoot)('the suite\'s own teardown, after a DEL that fails (root)', () => {
  it('leaves no process, mount, cgroup, libcni result or directory behind, and says what failed', async () => {
    const bridge = `kovotd${process.pid % 10_000}`;
    const ipam = mkdtempSync(join(tmpdir(), 'kovo-ipam-'));
    const network = { cniVersion: '1.0.0', name: 'teardown-check', plugins: [{ type: 'bridge', bridge, isGateway: false, ipMasq: false, ipam: { type: 'host-local', dataDir: ipam, ranges: [[{ subnet: '10.244.78.0/24' }]] } }] };
    const plugins = Object.fromEntries(['bridge', 'host-local', 'loopback'].map((p) => [p, `/usr/lib/cni/${p}`]));
    const cd = await startContainerd({ plugins, conflists: { [CONFLIST]: network }, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    const { dir, cgroupParent } = cd;
    let failure: Error | undefined;
    try {
      const id = (await cd.cri.runPodSandbox(podSandboxConfig('doomed', { cgroupParent }))).res.pod_sandbox_id;
      expect(existsSync(`/var/lib/cni/results/teardown-check-${id}-eth0`)).toBe(true);
      // From now on every DEL fails: the list names a plugin that is not there.
      cd.writeConflist(CONFLIST, { ...network, plugins: [...network.plugins, { type: 'no-such-plugin' }] });
      await waitFor(async () => /no-such-plugin/.test(cd.log()) || (await cd.cri.stopPodSandbox(id, 5_000).then(() => false, () => true)), 30_000);
    } finally {
      failure = await cd.stop().then(() => undefined, (err: Error) => err);
      await execa('ip', ['link', 'del', bridge], { reject: false, timeout: 10_000 });
      rmSync(ipam, { recursive: true, force: true });
    }
    expect(failure?.message).toMatch(/containerd teardown: stop [0-9a-f]{64}: StopPodSandbox/);
    expect(pidsWith(dir)).toEqual([]);
    expect(readFileSync('/proc/self/mounts', 'utf8')).not.toContain(dir);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync('/sys/fs/cgroup').some((c) => existsSync(join('/sys/fs/cgroup', c, cgroupParent)))).toBe(false);
    expect(existsSync(join('/sys/fs/cgroup', cgroupParent))).toBe(false);
    expect(existsSync('/var/lib/cni/results') ? readdirSync('/var/lib/cni/results').filter((f) => f.startsWith('teardown-check-')) : []).toEqual([]);
  }, 120_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
