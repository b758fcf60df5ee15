/**
 * A private containerd (Debian's 1.6, CRI plugin built in) for the runtime suite: its own
 * config, root, state, socket and CNI directories under a temp dir, never the system service.
 * Its CNI bin_dir holds the given plugins, its conf_dir the given conflists, and it runs with
 * the given environment, which it passes on to every plugin (as a real containerd passes its
 * own). `stop()` removes all it made, also after a failure: sandboxes (through CRI, so the
 * plugins see their DELs), containerd and its shims, mounts, network namespaces, the pod
 * cgroups, and the directories containerd 1.6 hard-codes outside its root (/run/containerd/s,
 * /var/lib/cni/results) when they were not there before. Recipe and facts:
 * shared/reference/cri-e2e. Needs root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { criClient, type CriClient } from './cri/client.js';
import { ociArchive } from './oci.js';

const PAUSE_C = fileURLToPath(new URL('./cri/pause.c', import.meta.url));
const CACHE = fileURLToPath(new URL('../../.cache/cri', import.meta.url));
export const PAUSE_IMAGE = 'localhost/kube-ovn-offload-e2e/pause:1';
/** Paths containerd 1.6 uses outside its own root, whatever its config says. */
const HARD_CODED = ['/run/containerd/s', '/run/containerd', '/var/lib/cni/results', '/var/lib/cni'];

export interface Containerd {
  dir: string;
  socket: string;
  cri: CriClient;
  /** The cgroup parent the suite's pods go under; removed by stop(). */
  cgroupParent: string;
  /** Writes a conflist into the CNI conf_dir; containerd watches it and uses it for the next pod. */
  writeConflist(file: string, doc: unknown): void;
  ctr(...args: string[]): Promise<string>;
  /** containerd's own log. */
  log(): string;
  /** Network namespaces containerd made that still exist (/var/run/netns/cni-*). */
  netnsLeft(): string[];
  stop(): Promise<void>;
}

/** The static pause binary and its one-file OCI archive, built once into .cache/cri. */
async function pauseImage(): Promise<string> {
  const bin = join(CACHE, 'pause');
  const archive = join(CACHE, 'pause.tar');
  if (existsSync(archive)) return archive;
  mkdirSync(CACHE, { recursive: true });
  await execa('gcc', ['-static', '-Os', '-s', '-o', bin, PAUSE_C], { timeout: 120_000 });
  await ociArchive({ ref: PAUSE_IMAGE, files: [{ path: 'pause', source: bin, mode: 0o755 }], entrypoint: ['/pause'], user: '65535:65535', out: archive });
  return archive;
}

function config(dir: string): string {
  return `# A private containerd for the runtime suite (test/support/containerd.ts).
version = 2
root = "${dir}/root"
state = "${dir}/state"
temp = "${dir}/tmp"

[grpc]
  address = "${dir}/containerd.sock"

[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "${dir}/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "${PAUSE_IMAGE}"
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    disable_apparmor = true
    # This machine's root lacks CAP_SYS_RESOURCE: runc cannot give the pause process -998.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "${dir}/cni/bin"
      conf_dir = "${dir}/cni/conf"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "${dir}/runc"
`;
}

export async function startContainerd(opts: { plugins: Record<string, string>; conflists?: Record<string, unknown>; env: Record<string, string> }): Promise<Containerd> {
  const dir = mkdtempSync(join(tmpdir(), 'kovo-cri-'));
  const id = dir.split('-').pop()!;
  const socket = join(dir, 'containerd.sock');
  const cgroupParent = `/kovo-cri-${id}`;
  const existedBefore = new Set(HARD_CODED.filter((p) => existsSync(p)));
  const netnsBefore = new Set(listNetns());
  let proc: ChildProcess | undefined;
  let cri: CriClient | undefined;
  const ctr = async (...args: string[]) => String((await execa('ctr', ['-a', socket, '-n', 'k8s.io', ...args], { timeout: 120_000 })).stdout);
  const writeConflist = (file: string, doc: unknown) => writeFileSync(join(dir, 'cni', 'conf', file), JSON.stringify(doc, null, 2));

  const stop = async (): Promise<void> => {
    const failures: string[] = [];
    const attempt = async (what: string, work: () => Promise<unknown> | unknown) => {
      try {
        await work();
      } catch (err) {
        failures.push(`${what}: ${(err as Error).message}`);
      }
    };
    // Through CRI first, so that the plugins see their DELs as they would from the kubelet.
    if (cri) {
      const sandboxes = await cri.listPodSandbox().then((r) => r.res.items, () => []);
      for (const s of sandboxes) {
        await attempt(`stop ${s.id}`, () => cri!.stopPodSandbox(s.id));
        await attempt(`remove ${s.id}`, () => cri!.removePodSandbox(s.id));
      }
      cri.close();
    }
    await attempt('containerd', () => endProcess(proc));
    // Shims outlive containerd; they name its socket on their command line.
    for (const pid of pidsWith(`-address ${socket}`)) await attempt(`shim ${pid}`, () => process.kill(pid, 'SIGKILL'));
    // Mounts under the work dir, deepest first: rootfs overlays, shm.
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(`${dir}/`)).sort().reverse();
    for (const m of mounts) await attempt(`umount ${m}`, () => execa('umount', ['-l', m], { timeout: 30_000 }));
    for (const ns of listNetns().filter((n) => !netnsBefore.has(n) && n.startsWith('cni-'))) {
      await attempt(`netns ${ns}`, () => execa('ip', ['netns', 'del', ns], { timeout: 30_000 }));
    }
    for (const controller of safeList('/sys/fs/cgroup')) {
      await attempt(`cgroup ${controller}`, () => removeCgroup(join('/sys/fs/cgroup', controller, cgroupParent)));
    }
    // Only when empty and not there before: the system's own containerd or libcni may use them.
    for (const p of HARD_CODED) if (!existedBefore.has(p)) await attempt(p, () => existsSync(p) && rmdirSync(p));
    rmSync(dir, { recursive: true, force: true });
    if (failures.length > 0) throw new Error(`containerd teardown left things behind: ${failures.join('; ')}`);
  };

  try {
    for (const d of ['root', 'state', 'tmp', 'opt', 'runc', 'cni/bin', 'cni/conf']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'config.toml'), config(dir));
    for (const [name, path] of Object.entries(opts.plugins)) symlinkSync(path, join(dir, 'cni', 'bin', name));
    for (const [file, doc] of Object.entries(opts.conflists ?? {})) writeConflist(file, doc);
    const archive = await pauseImage();
    const log = openSync(join(dir, 'containerd.log'), 'a');
    // Its own session: a test runner's signal must not reach it before stop() does.
    proc = spawn('containerd', ['--config', join(dir, 'config.toml')], { cwd: dir, env: opts.env, stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    await until(async () => (await execa('ctr', ['-a', socket, 'version'], { reject: false, timeout: 5_000 })).exitCode === 0, 15_000, 'containerd did not come up');
    await ctr('images', 'import', archive);
    cri = criClient(socket);
    // NetworkReady once the CRI plugin has loaded a conflist from conf_dir.
    const client = cri;
    await until(async () => (await client.status()).res.status.conditions.some((c) => c.type === 'NetworkReady' && c.status), 15_000, 'containerd never reported NetworkReady');
  } catch (err) {
    const log = existsSync(join(dir, 'containerd.log')) ? readFileSync(join(dir, 'containerd.log'), 'utf8').split('\n').slice(-20).join('\n') : '';
    await stop().catch(() => undefined);
    throw new Error(`${(err as Error).message}\n${log}`);
  }

  return {
    dir,
    socket,
    cri,
    cgroupParent,
    writeConflist,
    ctr,
    log: () => readFileSync(join(dir, 'containerd.log'), 'utf8'),
    netnsLeft: () => listNetns().filter((n) => !netnsBefore.has(n) && n.startsWith('cni-')),
    stop,
  };
}

function listNetns(): string[] {
  return safeList('/var/run/netns');
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Processes whose command line contains `text`. */
export function pidsWith(text: string): number[] {
  return safeList('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(text);
    } catch {
      return false;
    }
  });
}

/** A cgroup directory and its children, leaves first (rmdir is how cgroups are removed). */
function removeCgroup(path: string): void {
  if (!existsSync(path)) return;
  for (const child of readdirSync(path, { withFileTypes: true })) if (child.isDirectory()) removeCgroup(join(path, child.name));
  rmdirSync(path);
}

/** TERM, then KILL after 5 s; resolves once the process has exited. */
async function endProcess(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
