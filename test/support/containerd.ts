/**
 * A private containerd (Debian's 1.6, CRI plugin built in) for the runtime suite: its own
 * config, root, state, socket and CNI directories under a temp dir, never the system service.
 * Pod network namespaces are mounted under its state dir too, so nothing of it lands in
 * /var/run/netns. Its CNI bin_dir holds the given plugins, its conf_dir the given conflists,
 * and it runs with the given environment, which it passes on to every plugin (as a real
 * containerd passes its own). `stop()` removes all it made, also after a failure: sandboxes
 * (through CRI, so the plugins see their DELs), containerd and its shims, what still runs in
 * the pods' cgroups, mounts, the cgroups, and what containerd 1.6 leaves outside its root
 * (shim sockets in /run/containerd/s, libcni's result cache in /var/lib/cni/results), then the
 * directories themselves when they were not there before. A containerd whose test process was
 * killed is swept by the next start. Facts: docs/testing.md#through-a-real-container-runtime, docs/upstream.md#containerd-16. Needs root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmdirSync, rmSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { criClient, type CriClient } from './cri/client.js';
import { ociArchive } from './oci.js';
import { endProcess } from './end-process.js';

const PAUSE_C = fileURLToPath(new URL('./cri/pause.c', import.meta.url));
const CACHE = fileURLToPath(new URL('../../.cache/cri', import.meta.url));
export const PAUSE_IMAGE = 'localhost/kube-ovn-offload-e2e/pause:1';
const PREFIX = 'kovo-cri-';
/** What containerd 1.6 and libcni use outside containerd's root, whatever its config says. */
const SHIM_SOCKETS = '/run/containerd/s';
const CNI_RESULTS = '/var/lib/cni/results';
const HARD_CODED = [SHIM_SOCKETS, '/run/containerd', CNI_RESULTS, '/var/lib/cni'];
/** Teardown's CRI calls: enough for a DEL, short of a test hook's own timeout. */
const TEARDOWN_DEADLINE_MS = 20_000;
const NSFS_MAGIC = 0x6e736673;

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
  /** Pod network namespaces containerd made that are still mounted. */
  netnsLeft(): string[];
  stop(): Promise<void>;
}

/** The static pause binary and its one-file OCI archive, built once per pause.c into .cache/cri. */
async function pauseImage(): Promise<string> {
  const source = readFileSync(PAUSE_C);
  const key = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const archive = join(CACHE, `pause-${key}.tar`);
  if (existsSync(archive)) return archive;
  mkdirSync(CACHE, { recursive: true });
  const bin = join(CACHE, `pause-${key}`);
  await execa('gcc', ['-static', '-Os', '-s', '-o', bin, PAUSE_C], { timeout: 120_000 });
  // Renamed into place: a run killed half-way leaves no archive that looks whole.
  await ociArchive({ ref: PAUSE_IMAGE, files: [{ path: 'pause', source: bin, mode: 0o755 }], entrypoint: ['/pause'], user: '65535:65535', out: `${archive}.tmp` });
  renameSync(`${archive}.tmp`, archive);
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
    # Pod netns under the state dir, not /var/run/netns: ours alone to sweep.
    netns_mounts_under_state_dir = true
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
  await sweepAbandoned();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, 'owner'), String(process.pid)); // for the sweep, should this process die
  const socket = join(dir, 'containerd.sock');
  const cgroupParent = `/${PREFIX}${dir.split('-').pop()!}`;
  const before = new Set(HARD_CODED.filter((p) => existsSync(p)));
  const shimSocketsBefore = new Set(safeList(SHIM_SOCKETS));
  let proc: ChildProcess | undefined;
  let cri: CriClient | undefined;
  const ctr = async (...args: string[]) => String((await execa('ctr', ['-a', socket, '-n', 'k8s.io', ...args], { timeout: 120_000 })).stdout);
  const writeConflist = (file: string, doc: unknown) => writeFileSync(join(dir, 'cni', 'conf', file), JSON.stringify(doc, null, 2));

  const stop = async (): Promise<void> => {
    const { attempt, failures } = collector();
    // Through CRI first, so that the plugins see their DELs as they would from the kubelet.
    const ids = new Set<string>();
    if (cri) {
      const client = cri;
      const sandboxes = await client.listPodSandbox().then((r) => r.res.items, () => []);
      for (const s of sandboxes) {
        ids.add(s.id);
        await attempt(`stop ${s.id}`, () => client.stopPodSandbox(s.id, TEARDOWN_DEADLINE_MS));
        await attempt(`remove ${s.id}`, () => client.removePodSandbox(s.id, TEARDOWN_DEADLINE_MS));
      }
      client.close();
    }
    await attempt('containerd', () => endProcess(proc));
    failures.push(...(await cleanUpAfter(dir, cgroupParent, { ids, shimSocketsBefore, before })));
    if (failures.length > 0) throw new Error(`containerd teardown: ${failures.join('; ')}`);
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
    const started = proc;
    await new Promise<void>((resolve, reject) => started.once('spawn', resolve).once('error', reject)); // not installed: ENOENT here
    started.on('error', () => undefined); // later errors show as its exit
    writeFileSync(join(dir, 'containerd.pid'), String(started.pid));
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
    netnsLeft: () => safeList(netnsDir(dir)).filter((n) => isNsfs(join(netnsDir(dir), n))),
    stop,
  };
}

function netnsDir(dir: string): string {
  return join(dir, 'state', 'io.containerd.grpc.v1.cri', 'netns');
}

/**
 * Everything of a containerd under `dir` once it no longer runs: its shims, what still runs in
 * its pods' cgroups, the mounts under `dir` (rootfs overlays, shm, pod netns), the cgroups, the
 * shim sockets and libcni results it left outside, the hard-coded directories that were not
 * there before, and `dir`. Returns what could not be removed.
 */
async function cleanUpAfter(dir: string, cgroupParent: string, known: { ids: Set<string>; shimSocketsBefore: Set<string>; before: Set<string> }): Promise<string[]> {
  const { attempt, failures } = collector();
  const socket = join(dir, 'containerd.sock');
  // Shims outlive containerd; they name its socket on their command line, with the sandbox id.
  for (const pid of pidsWith(`-address ${socket}`)) {
    const id = /-id (\S+)/.exec(cmdline(pid))?.[1];
    if (id) known.ids.add(id);
    await attempt(`shim ${pid}`, () => process.kill(pid, 'SIGKILL'));
  }
  const cgroups = [join('/sys/fs/cgroup', cgroupParent), ...safeList('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c, cgroupParent))].filter((p) => existsSync(p));
  // Pause and containers that a dead shim left running (cgroup v1 per controller, or v2).
  for (const cg of cgroups) await attempt(`processes of ${cg}`, () => killAllIn(cg));
  // Mounts under the work dir, deepest first: rootfs overlays, shm, pod netns.
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(`${dir}/`)).sort().reverse();
  for (const m of mounts) await attempt(`umount ${m}`, () => execa('umount', ['-l', m], { timeout: 30_000 }));
  for (const cg of cgroups) await attempt(`cgroup ${cg}`, () => removeCgroup(cg));
  // libcni keeps a result per attachment (<network>-<container id>-<ifname>) until a DEL succeeds.
  for (const f of safeList(CNI_RESULTS).filter((f) => [...known.ids].some((id) => f.includes(`-${id}-`)))) {
    await attempt(f, () => rmSync(join(CNI_RESULTS, f), { force: true }));
  }
  // A killed shim leaves its socket; those that came during our run are ours.
  for (const s of safeList(SHIM_SOCKETS).filter((s) => !known.shimSocketsBefore.has(s))) await attempt(s, () => rmSync(join(SHIM_SOCKETS, s), { force: true }));
  // Only when empty and not there before: the system's own containerd or libcni may use them.
  for (const p of HARD_CODED) if (!known.before.has(p)) await attempt(p, () => existsSync(p) && rmdirSync(p));
  const stillMounted = readFileSync('/proc/self/mounts', 'utf8').includes(` ${dir}/`);
  if (stillMounted) failures.push(`mounts left under ${dir}; not removing it`);
  else rmSync(dir, { recursive: true, force: true });
  return failures;
}

/**
 * The containerds of test processes that died before their stop() (a killed worker, Ctrl-C):
 * ended and cleaned up as stop() would have, so that no run inherits another's leftovers.
 */
async function sweepAbandoned(): Promise<void> {
  for (const name of safeList(tmpdir()).filter((n) => n.startsWith(PREFIX))) {
    const dir = join(tmpdir(), name);
    const owner = Number(readOr(join(dir, 'owner'), '0'));
    if (owner && processExists(owner)) continue;
    const pid = Number(readOr(join(dir, 'containerd.pid'), '0'));
    if (pid && cmdline(pid).startsWith('containerd')) process.kill(pid, 'SIGKILL');
    await cleanUpAfter(dir, `/${PREFIX}${name.slice(PREFIX.length)}`, { ids: new Set(), shimSocketsBefore: new Set(safeList(SHIM_SOCKETS)), before: new Set(HARD_CODED) });
  }
}

/** Teardown goes on past a failure: each step is attempted, and what failed is collected. */
function collector() {
  const failures: string[] = [];
  const attempt = async (what: string, work: () => Promise<unknown> | unknown) => {
    try {
      await work();
    } catch (err) {
      failures.push(`${what}: ${(err as Error).message}`);
    }
  };
  return { attempt, failures };
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isNsfs(path: string): boolean {
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function cmdline(pid: number): string {
  return readOr(`/proc/${pid}/cmdline`, '').replaceAll('\0', ' ');
}

/** Processes whose command line contains `text`. */
export function pidsWith(text: string): number[] {
  return safeList('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => pid !== process.pid && cmdline(pid).includes(text));
}

/** SIGKILL to every process in a cgroup and its children. */
function killAllIn(path: string): void {
  for (const child of readdirSync(path, { withFileTypes: true })) if (child.isDirectory()) killAllIn(join(path, child.name));
  for (const pid of readOr(join(path, 'cgroup.procs'), '').split('\n').filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
}

/** A cgroup directory and its children, leaves first (rmdir is how cgroups are removed); its processes may take a moment to go. */
async function removeCgroup(path: string): Promise<void> {
  if (!existsSync(path)) return;
  for (const child of readdirSync(path, { withFileTypes: true })) if (child.isDirectory()) await removeCgroup(join(path, child.name));
  for (let tries = 0; ; tries++) {
    try {
      rmdirSync(path);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || tries >= 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
