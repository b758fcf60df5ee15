/**
 * The real Multus v4.0.2 and our fake kubelet, as built from third_party/ by the global setup,
 * and the fake kubelet on Multus's hard-coded socket: what List answers, how the call arrives,
 * and that nothing of it is left on the host afterwards. The List is made by the fake's own
 * client mode (`fake-kubelet -list`), which dials as Multus's kubeletclient does: Node's gRPC
 * cannot talk to a grpc-go peer over a socket path as authority. Root only (the socket's
 * directory is under /var/lib).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { DEVINFO_CNI, DEVINFO_DP, FAKE_KUBELET, KUBELET_SOCKET, MULTUS, MULTUS_DAEMON, MULTUS_SHIM, MULTUS_VENDOR, SERVICE_ACCOUNT_DIR, buildMultus, multusHostPaths, startFakeKubelet, type FakeKubelet, type KubeletPod } from '../support/multus.js';

const isRoot = process.getuid?.() === 0;

const POD: KubeletPod = {
  namespace: 'default',
  name: 'offload-example',
  containers: [{ name: 'app', devices: [{ resourceName: 'example.com/offload_vf', deviceIds: ['0000:42:00.3'] }] }],
};

async function list(socket = KUBELET_SOCKET): Promise<{ pods: KubeletPod[] }> {
  const { stdout } = await execa(FAKE_KUBELET, ['-list', '-socket', socket, '-timeout', '5s'], { timeout: 15_000 });
  return JSON.parse(stdout);
}

describe.skipIf(!isRoot)('the real Multus v4.0.2 and the fake kubelet', () => {
  let dir: string;
  let kubelet: FakeKubelet | undefined;
  const cleanups: Array<() => void | Promise<void>> = [];

  beforeAll(async () => {
    await buildMultus(); // a no-op after the global setup
  });
  afterEach(async () => {
    await kubelet?.stop();
    kubelet = undefined;
    for (const c of cleanups.splice(0).reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  });
  const newDir = () => (dir = mkdtempSync(join(tmpdir(), 'kovo-multus-')));

  it('builds multus, multus-daemon and multus-shim of release v4.0.2, the fake kubelet, and unpacks the vendored .proto files', async () => {
    newDir();
    for (const bin of [MULTUS, MULTUS_DAEMON, MULTUS_SHIM]) {
      // multus-daemon exits 4 after printing its version (cmd/multus-daemon/main.go): only the output counts.
      const { stdout } = await execa(bin, ['-version'], { timeout: 10_000, reject: false });
      // "multus: version:v4.0.2(clean,released), commit:f03765681fe81ee1e0633ee1734bf48ab3bccf2b, date:unknown date"
      expect(stdout).toMatch(/version:v4\.0\.2\(clean,released\), commit:f03765681fe8/);
    }
    accessSync(FAKE_KUBELET, constants.X_OK);
    expect(existsSync(join(MULTUS_VENDOR, 'k8s.io/api/core/v1/generated.proto'))).toBe(true);
  });

  it("answers List with the configured pod's device IDs, and logs the call as Multus's client makes it", async () => {
    newDir();
    kubelet = await startFakeKubelet({ dir, pods: [POD] });
    expect(await list()).toEqual({ pods: [POD] });
    const calls = kubelet.calls();
    expect(calls).toHaveLength(1);
    // grpc-go 1.40 sends the socket path as :authority (why a Node server cannot be the fake).
    expect(calls[0]).toMatchObject({ method: 'List', authority: KUBELET_SOCKET, callerExe: FAKE_KUBELET, answer: { pods: [POD] } });
    expect(calls[0]!.userAgent).toMatch(/^grpc-go\/1\.40\.0/);
  });

  it('answers the next List from what setPods wrote', async () => {
    newDir();
    kubelet = await startFakeKubelet({ dir, pods: [POD] });
    const moved = { ...POD, containers: [{ name: 'app', devices: [{ resourceName: 'example.com/offload_vf', deviceIds: ['0000:42:00.5', '0000:42:00.6'] }] }] };
    kubelet.setPods([moved]);
    expect((await list()).pods[0]!.containers[0]!.devices[0]!.deviceIds).toEqual(['0000:42:00.5', '0000:42:00.6']);
    kubelet.setPods([]);
    expect(await list()).toEqual({ pods: [] });
  });

  it('stop() removes the socket and the directories it made, and keeps one that was there before', async () => {
    newDir();
    // /var/lib/kubelet there before, /var/lib/kubelet/pod-resources not: only the latter is the fake's.
    if (!existsSync('/var/lib/kubelet')) {
      mkdirSync('/var/lib/kubelet');
      cleanups.push(() => rmdirSync('/var/lib/kubelet'));
    }
    if (existsSync('/var/lib/kubelet/pod-resources')) return; // a node with a kubelet's directory: nothing to make
    kubelet = await startFakeKubelet({ dir, pods: [POD] });
    expect(existsSync(KUBELET_SOCKET)).toBe(true);
    const marker = JSON.parse(readFileSync(join(dir, 'host-paths-fake-kubelet.json'), 'utf8'));
    expect(marker).toMatchObject({ dirs: ['/var/lib/kubelet/pod-resources'], files: [KUBELET_SOCKET] });
    await kubelet.stop();
    kubelet = undefined;
    expect(existsSync(KUBELET_SOCKET)).toBe(false);
    expect(existsSync('/var/lib/kubelet/pod-resources')).toBe(false);
    expect(existsSync('/var/lib/kubelet')).toBe(true);
    expect(existsSync(join(dir, 'host-paths-fake-kubelet.json'))).toBe(false);
  });

  it('leaves nothing of /var/lib/kubelet when it made the whole chain', async () => {
    newDir();
    if (existsSync('/var/lib/kubelet')) return;
    kubelet = await startFakeKubelet({ dir, pods: [POD] });
    await kubelet.stop();
    kubelet = undefined;
    expect(existsSync('/var/lib/kubelet')).toBe(false);
  });

  it("refuses a kubelet socket that is already there, and does not touch it", async () => {
    newDir();
    const socket = join(dir, 'kubelet.sock');
    const other: Server = createServer();
    await new Promise<void>((resolve) => other.listen(socket, resolve));
    cleanups.push(() => new Promise<void>((resolve) => other.close(() => resolve())));
    await expect(startFakeKubelet({ dir, pods: [POD], socket })).rejects.toThrow(`${socket} already exists (served by pid ${process.pid}`);
    expect(existsSync(socket)).toBe(true);
  });

  it("refuses to start a second fake kubelet over another test's", async () => {
    newDir();
    kubelet = await startFakeKubelet({ dir, pods: [POD] });
    const second = mkdtempSync(join(tmpdir(), 'kovo-multus-'));
    cleanups.push(() => rmSync(second, { recursive: true, force: true }));
    await expect(startFakeKubelet({ dir: second, pods: [] })).rejects.toThrow(/another test's fake kubelet, pid \d+/);
    expect(await list()).toEqual({ pods: [POD] });
  });

  it("makes Multus's device-info directories and a service account, and removes only those", async () => {
    newDir();
    const before = [DEVINFO_DP, DEVINFO_CNI, SERVICE_ACCOUNT_DIR, '/var/run/k8s.cni.cncf.io', '/var/run/secrets'].filter((p) => existsSync(p));
    if (before.includes(SERVICE_ACCOUNT_DIR)) return; // a real pod's or node's: multusHostPaths refuses it
    const host = multusHostPaths({ dir, serviceAccount: { token: 'fake-multus-token', caPem: '-----BEGIN CERTIFICATE-----\n' } });
    cleanups.push(() => host.remove()); // also after a failed assertion; a second remove() finds nothing to do
    const info = host.writeDevicePluginInfo('example.com/offload_vf', '0000:42:00.4');
    expect(info).toBe(`${DEVINFO_DP}/example.com-offload_vf-0000:42:00.4-device.json`);
    expect(JSON.parse(readFileSync(info, 'utf8'))).toEqual({ type: 'pci', version: '1.0.0', pci: { 'pci-address': '0000:42:00.4' } });
    expect(readFileSync(join(SERVICE_ACCOUNT_DIR, 'token'), 'utf8')).toBe('fake-multus-token');
    expect(existsSync(DEVINFO_CNI)).toBe(true);
    // A token other than ours there is a real service account's: refused.
    expect(() => multusHostPaths({ dir: mkdtempSync(join(dir, 'again-')), serviceAccount: { token: 'another', caPem: '' } })).toThrow(/already holds (token, ca.crt|ca.crt, token): a real service account/);
    host.remove();
    for (const p of [info, DEVINFO_DP, DEVINFO_CNI, SERVICE_ACCOUNT_DIR, '/var/run/k8s.cni.cncf.io', '/var/run/secrets']) expect(existsSync(p)).toBe(before.includes(p));
  });
});
