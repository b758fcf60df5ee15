/**
 * The kubelet's path, as root: containerd's CRI plugin (Debian's containerd 1.6 + runc) runs pod
 * sandboxes whose network is the guard conflist [kube-ovn-offload, kube-ovn, portmap] with the
 * VF Multus would have injected, on the simulated node (its sysfs root and fake tools reach
 * the plugins through containerd's own environment). The calls are the kubelet's, through our
 * small CRI client: RunPodSandbox → PodSandboxStatus → StopPodSandbox → RemovePodSandbox.
 * containerd sends a second DEL with an empty netns, shuffles CNI_ARGS, runs sandboxes in
 * parallel and kills a plugin at the caller's deadline; cnitool does none of that.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRig, finishRig, isRoot, linkInfo, type Rig } from '../support/e2e.js';
import { startContainerd, pidsWith, type Containerd } from '../support/containerd.js';
import { CriCallError, podSandboxConfig, sandboxNetns } from '../support/cri/client.js';
import { KUBE_OVN_CNI } from '../support/kube-ovn-cni.js';
import { SEA_BIN } from '../support/plugin.js';
import { INSTALLER_ARCHIVE, INSTALLER_REF } from '../support/installer-image.js';
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
  }, 120_000);

  afterAll(async () => {
    const left: string[] = [];
    if (cd) {
      const netns = cd.netnsLeft();
      await cd.stop();
      if (netns.length > 0) left.push(`netns ${netns.join(', ')} (removed by stop())`);
      if (pidsWith(cd.socket).length > 0) left.push(`processes naming ${cd.socket}`);
    }
    await finishRig(rig);
    expect(left).toEqual([]);
  }, 120_000);

  it('RunPodSandbox → PodSandboxStatus shows the daemon\'s address; the sandbox\'s netns has the VF as eth0 with it', async () => {
    const r = await run('web-0');
    expect(r.error).toBeUndefined();
    const status = await cd.cri.podSandboxStatus(r.id!);
    expect(status.res.status).toMatchObject({ state: 'SANDBOX_READY', network: { ip: '10.17.0.2' } });
    const netns = sandboxNetns(status.res.info)!;
    expect(netns).toMatch(/^\/var\/run\/netns\/cni-/);
    const eth0 = await linkInfo('eth0', netns.split('/').pop());
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
    try {
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
    } finally {
      rig.node.setHwTc('0000:42:00.0', 'on');
    }
  });

  it('10 sandboxes at once for one VF: exactly one runs, the others are told the VF is still attached (11); then the next one runs', async () => {
    const tries = await Promise.all(Array.from({ length: 10 }, (_, i) => run(`race-${i}`)));
    const winners = tries.filter((t) => t.id);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    for (const t of tries.filter((x) => x.error)) {
      expect(t.error!.details).toContain(`VF ${VF0} is still attached to pod default/${winner.config.metadata.name}`);
    }
    // The refused pods' DELs (kube-ovn's resets the VF's MAC through the PF; ours puts it back).
    const netns = sandboxNetns((await cd.cri.podSandboxStatus(winner.id!)).res.info)!;
    const eth0 = await linkInfo('eth0', netns.split('/').pop());
    expect(rig.node.vf(VF0).vf.adminMac).toBe(eth0!.address);

    await stopAndRemove(winner.id!);
    const next = await run('race-next');
    expect(next.error).toBeUndefined();
    await stopAndRemove(next.id!);
    expect(records()).toEqual([]);
    expect(cd.netnsLeft()).toEqual([]);
  }, 120_000);

  it('a plugin killed at the caller\'s deadline leaves no child holding containerd\'s pipe: containerd answers within 1 s of it', async () => {
    rig.node.setTool('devlink', 'hang'); // the plugin waits tool_timeout_s (10 s) for it
    const deadlineMs = 3_000;
    const started = Date.now();
    try {
      const r = await run('slow-0', deadlineMs);
      expect(r.error?.code).toBe(4); // DEADLINE_EXCEEDED, as the kubelet sees it
      // When containerd itself gave up on the plugin: its log line for the failed RunPodSandbox.
      const failedAt = await waitForLog(cd, /RunPodSandbox for .*slow-0.* failed/, 30_000);
      expect(failedAt - started).toBeLessThan(deadlineMs + 1_000);
      expect(cd.log()).toMatch(/plugin type=\\?"kube-ovn-offload\\?" failed \(add\):.*signal: killed/);
    } finally {
      rig.node.setTool('devlink', 'ok');
      // The hung fake devlink outlives the plugin SIGKILL'd above (a child gets no signal when
      // its parent dies); it is the test's to end.
      for (const pid of pidsWith(join(rig.node.root, 'bin', 'devlink'))) process.kill(pid, 'SIGKILL');
    }
    // containerd's clean-up DEL ran; nothing of the sandbox is left.
    await waitFor(async () => (await cd.cri.listPodSandbox()).res.items.length === 0 && cd.netnsLeft().length === 0, 30_000);
    expect(records()).toEqual([]);
  }, 60_000);
});

describe.skipIf(!isRoot)('the installer image, run by containerd as the DaemonSet runs it (root)', () => {
  let cd: Containerd;
  let hostBin: string;
  let logs: string;
  const target = () => join(hostBin, 'kube-ovn-offload');
  const sea = () => readFileSync(SEA_BIN);

  beforeAll(async () => {
    hostBin = mkdtempSync(join(tmpdir(), 'kovo-opt-cni-bin-')); // stands for the node's /opt/cni/bin
    logs = mkdtempSync(join(tmpdir(), 'kovo-pod-logs-'));
    cd = await startContainerd({ plugins: { loopback: '/usr/lib/cni/loopback' }, conflists: { [CONFLIST]: LOOPBACK_ONLY }, env: { PATH: '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } });
    await cd.ctr('images', 'import', INSTALLER_ARCHIVE);
  }, 120_000);

  afterAll(async () => {
    await cd?.stop();
    rmSync(hostBin, { recursive: true, force: true });
    rmSync(logs, { recursive: true, force: true });
  }, 120_000);

  /** The DaemonSet's pod (hostNetwork, the host's /opt/cni/bin mounted), run until the installer exits. */
  const install = async (name: string) => {
    const sandboxConfig = podSandboxConfig(name, { namespace: 'kube-system', cgroupParent: cd.cgroupParent, hostNetwork: true, logDirectory: logs });
    const sandbox = (await cd.cri.runPodSandbox(sandboxConfig)).res.pod_sandbox_id;
    try {
      const created = await cd.cri.createContainer(sandbox, {
        metadata: { name: 'install-cni', attempt: 0 },
        image: { image: INSTALLER_REF },
        command: ['/usr/local/bin/install-cni.sh'],
        args: [],
        // The DaemonSet's CNI_BIN_DIR; INSTALL_ONLY so that the container exits once it is done.
        envs: [{ key: 'CNI_BIN_DIR', value: '/host/opt/cni/bin' }, { key: 'INSTALL_ONLY', value: '1' }],
        mounts: [{ container_path: '/host/opt/cni/bin', host_path: hostBin, readonly: false }],
        log_path: `${name}.log`,
      }, sandboxConfig);
      const id = created.res.container_id;
      await cd.cri.startContainer(id);
      let status = (await cd.cri.containerStatus(id)).res.status;
      for (const deadline = Date.now() + 60_000; status.state !== 'CONTAINER_EXITED' && Date.now() < deadline; status = (await cd.cri.containerStatus(id)).res.status) {
        await new Promise((r) => setTimeout(r, 100));
      }
      await cd.cri.removeContainer(id);
      return { status, log: readFileSync(join(logs, `${name}.log`), 'utf8') };
    } finally {
      await cd.cri.stopPodSandbox(sandbox);
      await cd.cri.removePodSandbox(sandbox);
    }
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
    const { status, log } = await install('installer-0');
    watching = false;
    await watcher;
    expect(status).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 0 });
    expect(log).toContain(`installed kube-ovn-offload ${VERSION} at /host/opt/cni/bin/kube-ovn-offload`);
    expect([...sizes]).toEqual([sea().length]);
    expect(readFileSync(target()).equals(sea())).toBe(true);
    expect(statSync(target()).mode & 0o777).toBe(0o755);
    expect(readdirSync(hostBin)).toEqual(['kube-ovn-offload']); // no temporary file left
    expect(String((await execa(target(), ['version'], { timeout: 30_000 })).stdout)).toBe(`kube-ovn-offload ${VERSION}`);
  }, 120_000);

  it('replaces an older copy by rename while that copy is running, which runs on to its end', async () => {
    // An older build at the name (same version, other bytes), running for a pod: it waits on stdin.
    const older = Buffer.concat([sea(), Buffer.from('\n')]);
    writeFileSync(`${target()}.older`, older, { mode: 0o755 });
    renameSync(`${target()}.older`, target());
    const running = execa(target(), [], { env: { CNI_COMMAND: 'VERSION' }, extendEnv: false, input: undefined, stdin: 'pipe', timeout: 60_000, reject: false });
    await new Promise((r) => setTimeout(r, 300));
    expect(running.exitCode).toBeNull();

    const { status, log } = await install('installer-1');
    expect(status).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 0 });
    expect(log).toContain(`replaced kube-ovn-offload ${VERSION} with kube-ovn-offload ${VERSION} at /host/opt/cni/bin/kube-ovn-offload`);
    expect(readFileSync(target()).equals(sea())).toBe(true);

    running.stdin!.end('{"cniVersion":"1.0.0"}');
    const done = await running;
    expect(done.exitCode).toBe(0);
    expect(JSON.parse(String(done.stdout))).toMatchObject({ cniVersion: '1.0.0', supportedVersions: expect.arrayContaining(['1.0.0']) });
  }, 120_000);
});

/** When a line matching `re` appeared in containerd's log (its time= field), waiting for it. */
async function waitForLog(cd: Containerd, re: RegExp, timeoutMs: number): Promise<number> {
  let at: number | undefined;
  await waitFor(async () => {
    const line = cd.log().split('\n').find((l) => re.test(l));
    const time = line && /time="([^"]+)"/.exec(line)?.[1];
    at = time ? Date.parse(time) : undefined;
    return at !== undefined;
  }, timeoutMs);
  return at!;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
