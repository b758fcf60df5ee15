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
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRig, finishRig, isRoot, linkInfo, type Rig } from '../support/e2e.js';
import { startContainerd, pidsWith, type Containerd } from '../support/containerd.js';
import { CriCallError, podSandboxConfig, sandboxNetns } from '../support/cri/client.js';
import { KUBE_OVN_CNI } from '../support/kube-ovn-cni.js';
import { SEA_BIN } from '../support/plugin.js';

const VF0 = '0000:42:00.2';
const CONFLIST = '10-kube-ovn.conflist';

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
