/**
 * What a hostile NetworkAttachmentDefinition or a broken node can do to the plugin, and what
 * holds instead (issue 10): as the runtime and the operator see it, exit status, stdout, the
 * log and the files left behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cniError, useWorld, VF0, type World } from '../support/harness.js';
import { PLUGIN_BIN } from '../support/plugin.js';
import { bootId, startTime } from '../../src/plugin/lock.js';

const isRoot = process.getuid?.() === 0;
const record = (w: World) => join(w.stateDir, 'vf', `${VF0}.json`);
const lockPath = (w: World) => join(w.stateDir, 'lock', `${VF0}.lock`);
const mkfifo = (path: string) => execFileSync('mkfifo', [path], { timeout: 5_000 });

describe('what a NAD names', () => {
  const world = useWorld();

  it('a device-info file that is not JSON: the path and where it broke, never its bytes', async () => {
    const w = world();
    const file = join(w.node.root, 'devinfo.json');
    writeFileSync(file, 'root:$6$S3CRETHASH$abcdefgh:19000:0:99999:7:::\n');
    const out = await w.run('ADD', { deviceID: undefined, pciBusID: undefined, runtimeConfig: { CNIDeviceInfoFile: file } });
    expect(cniError(out)).toMatchObject({ code: 5, msg: `device-info file ${file} is not valid JSON`, details: expect.stringMatching(/^Unexpected token; the device plugin writes it as/) });
    expect(out.stdout + readFileSync(w.logFile, 'utf8')).not.toMatch(/S3CRET|root:/);
  });

  it('a device-info path that is a FIFO: 5 at once, not a read that waits for a writer', async () => {
    const w = world();
    const fifo = join(w.node.root, 'devinfo.fifo');
    mkfifo(fifo);
    const err = cniError(await w.run('ADD', { deviceID: undefined, pciBusID: undefined, runtimeConfig: { CNIDeviceInfoFile: fifo } }));
    expect(err).toMatchObject({ code: 5, msg: `device-info file ${fifo} cannot be read`, details: expect.stringContaining('is a FIFO, not a regular file') });
  });

  // The forbidden paths lead into a folder of the test's own (outside the roots it allows), so
  // that a regression writes there, not into /etc.
  it.each([
    ['log_file', (evil: string) => ({ log_file: `${evil}/evil.log` }), '/var/log/'],
    ['log_file', (evil: string) => ({ log_file: `/var/log/../..${evil}/evil.log` }), '/var/log/'],
    ['log_file', (evil: string) => ({ log_file: `${'../'.repeat(30)}${evil.slice(1)}/evil.log` }), '/var/log/'],
    ['state_dir', (evil: string) => ({ state_dir: `${evil}/state` }), '/var/lib/cni/ or /run/ or /var/run/'],
    ['runtimeConfig.CNIDeviceInfoFile', () => ({ deviceID: undefined, pciBusID: undefined, runtimeConfig: { CNIDeviceInfoFile: '/etc/shadow' } }), '/var/run/k8s.cni.cncf.io/devinfo/'],
  ])('%s outside its folder: 7 naming the folder, and nothing touched', async (key, extra, root) => {
    const w = world();
    const evil = mkdtempSync(join(tmpdir(), 'kovo-evil-'));
    try {
      // Only the node's folder is widened. The runtime's state dir variable would win over
      // state_dir: cleared for that case alone, so that no other case falls back to the real default.
      const env = { ...w.env, KUBE_OVN_OFFLOAD_PATH_ROOTS: w.node.root, ...(key === 'state_dir' ? { KUBE_OVN_OFFLOAD_STATE_DIR: '' } : {}) };
      const err = cniError(await w.run('ADD', extra(evil), { env }));
      expect(err.code).toBe(7);
      expect(err.msg).toContain(`it must be an absolute path under ${root}`);
      expect(readdirSync(evil)).toEqual([]);
      expect(w.daemon.requests).toEqual([]);
    } finally {
      rmSync(evil, { recursive: true, force: true });
    }
  });

  it('without KUBE_OVN_OFFLOAD_PATH_ROOTS only the built-in folders are allowed', async () => {
    const w = world();
    const { KUBE_OVN_OFFLOAD_PATH_ROOTS: _, ...env } = w.env;
    const err = cniError(await w.run('ADD', {}, { env }));
    expect(err).toMatchObject({ code: 7, msg: expect.stringContaining(`log_file ${JSON.stringify(w.logFile)} is outside the folders the plugin may use`) });
  });

  it('DEL with a path outside its folder goes on with the default, and says so on stderr', async () => {
    const w = world();
    expect((await w.run('ADD')).exitCode).toBe(0);
    const evil = join(w.node.root, 'evil.log');
    const out = await w.run('DEL', { log_file: evil }, { env: { ...w.env, KUBE_OVN_OFFLOAD_PATH_ROOTS: join(w.node.root, 'logs') } });
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(`log_file \\"${evil}\\" is outside the folders the plugin may use`);
    expect(existsSync(evil)).toBe(false);
    expect(w.received('/api/v1/del')).toHaveLength(1);
    expect(w.stateFiles()).toEqual([]);
  });

  const deep = '['.repeat(5000) + ']'.repeat(5000);
  it.each([
    ['a prevResult', `"prevResult":${deep}`],
    ['an interface of prevResult', `"prevResult":{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","extra":${deep}}]}`],
    ['an unknown key', `"x-vendor":${deep}`],
  ])('5000 levels of nesting in %s: 7, never 999', async (_, key) => {
    const w = world();
    const conf = `${JSON.stringify(w.conf()).slice(0, -1)},${key}}`;
    const out = await w.run('ADD', {}, { conf });
    expect(cniError(out)).toMatchObject({ code: 7, msg: expect.stringMatching(/nests deeper than 64 levels$/) });
    expect(out.stdout.length).toBeLessThan(1000);
  });

  it('a config over 1 MiB on stdin: 6, read no further', async () => {
    const w = world();
    const big = JSON.stringify({ ...w.conf(), pad: 'x'.repeat(1 << 20) });
    expect(cniError(await w.run('ADD', {}, { conf: big }))).toMatchObject({ code: 6, msg: `network configuration on stdin is larger than ${1 << 20} bytes` });
    // Just under the limit is an ordinary config.
    const fits = JSON.stringify({ ...w.conf(), pad: 'x'.repeat((1 << 20) - 2000) });
    expect((await w.run('ADD', {}, { conf: fits })).exitCode).toBe(0);
  });
});

describe('CNI_NETNS that is the plugin\'s own', () => {
  const world = useWorld();

  it.each([
    ['/proc/self/ns/net', () => '/proc/self/ns/net'],
    ['the parent\'s, which the plugin shares', () => `/proc/${process.pid}/ns/net`],
  ])('%s: 4 for ADD, CHECK and DEL, and the host\'s sysctls untouched', async (_, path) => {
    const w = world();
    for (const command of ['ADD', 'CHECK', 'DEL'] as const) {
      const err = cniError(await w.run(command, {}, { netns: path() }));
      expect(err).toMatchObject({ code: 4, msg: `CNI_NETNS ${path()} is the plugin's own network namespace, not a pod's` });
    }
    expect(w.node.nsenterCalls()).toEqual([]);
    expect(w.daemon.requests).toEqual([]);
  });
});

describe('a broken state_dir', () => {
  const world = useWorld();

  it('a FIFO at the VF\'s record: ADD 5 naming it, DEL succeeds, GC skips it with a warning', async () => {
    const w = world();
    mkdirSync(join(w.stateDir, 'vf'), { recursive: true });
    mkfifo(record(w));
    expect(cniError(await w.run('ADD'))).toMatchObject({ code: 5, msg: `state file ${record(w)} is a FIFO, not a regular file`, details: expect.stringContaining(`rm -r ${record(w)}`) });
    const gc = await w.run('GC', { 'cni.dev/valid-attachments': [] });
    expect(gc.exitCode).toBe(0);
    expect(w.log(), JSON.stringify(w.log())).toContainEqual(expect.objectContaining({ level: 'warn', msg: `skipped: state file ${record(w)} is a FIFO, not a regular file` }));
    expect((await w.run('DEL')).exitCode).toBe(0);
  });

  it('a directory at the VF\'s record: DEL succeeds and says what it could not remove', async () => {
    const w = world();
    mkdirSync(join(record(w), 'x'), { recursive: true });
    expect((await w.run('DEL')).exitCode).toBe(0);
    expect(w.received('/api/v1/del')).toHaveLength(1);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringMatching(new RegExp(`^record of VF ${VF0} not removed`)) }));
  });

  it('a FIFO at the VF\'s lock is no lock: ADD breaks it and goes on', async () => {
    const w = world();
    mkdirSync(join(w.stateDir, 'lock'), { recursive: true });
    mkfifo(lockPath(w));
    expect((await w.run('ADD', { lock_timeout_s: 5 })).exitCode).toBe(0);
  });

  it('a directory at the VF\'s lock: ADD 5 naming it, DEL goes on without the lock', async () => {
    const w = world();
    mkdirSync(join(lockPath(w), 'x'), { recursive: true });
    const err = cniError(await w.run('ADD', { lock_timeout_s: 5 }));
    expect(err).toMatchObject({ code: 5, msg: expect.stringContaining(`cannot take lock ${lockPath(w)}`), details: `${lockPath(w)} is a directory, not a lock file; remove it: rm -r ${lockPath(w)}` });
    expect((await w.run('DEL', { lock_timeout_s: 5 })).exitCode).toBe(0);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/^deleting without the VF's lock/) }));
  });

  it('the record is written through a fresh exclusive file: a symlink planted at any guessable temp name is not followed', async () => {
    const w = world();
    const victim = join(w.node.root, 'victim');
    writeFileSync(victim, 'untouched\n');
    mkdirSync(join(w.stateDir, 'vf'), { recursive: true });
    // The next few hundred pids: the plugin's is among them.
    const last = Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'));
    for (let pid = last + 1; pid < last + 400; pid++) symlinkSync(victim, `${record(w)}.tmp.${pid}`);
    expect((await w.run('ADD')).exitCode).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(JSON.parse(readFileSync(record(w), 'utf8'))).toMatchObject({ deviceID: VF0 });
  });

  describe.skipIf(!isRoot)('on a disk that cannot take a write (root: tmpfs mounts)', () => {
    const mounts: string[] = [];
    afterEach(() => {
      for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m], { timeout: 10_000 });
    });
    const mountTmpfs = (w: World, size: string) => {
      mkdirSync(w.stateDir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'kovo-state', w.stateDir], { timeout: 10_000 });
      mounts.push(w.stateDir);
    };

    it('read-only: DEL still asks the daemon, succeeds, and logs what it could not record', async () => {
      const w = world();
      mountTmpfs(w, '1m');
      expect((await w.run('ADD')).exitCode).toBe(0);
      execFileSync('mount', ['-o', 'remount,ro', w.stateDir], { timeout: 10_000 });
      const out = await w.run('DEL');
      expect(out.exitCode, out.stdout).toBe(0);
      expect(w.received('/api/v1/del')).toHaveLength(1);
      const warnings = w.log().filter((l) => l.level === 'warn').map((l) => l.msg as string);
      expect(warnings).toContainEqual(expect.stringMatching(/^deleting without the VF's lock: cannot take lock .*EROFS/));
      expect(warnings).toContainEqual(expect.stringMatching(new RegExp(`^record of VF ${VF0} not removed.*EROFS`)));
    });

    it('full: DEL succeeds and leaves no half-written lock file behind', async () => {
      const w = world();
      mountTmpfs(w, '64k');
      expect((await w.run('ADD')).exitCode).toBe(0);
      // Fill it: dd stops with ENOSPC, which is the point.
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(w.stateDir, 'fill')}`, 'bs=4k'], { timeout: 10_000, stdio: 'ignore' });
      } catch {
        /* no space left on device */
      }
      const out = await w.run('DEL');
      expect(out.exitCode, out.stdout).toBe(0);
      expect(w.received('/api/v1/del')).toHaveLength(1);
      expect(readdirSync(join(w.stateDir, 'lock'))).toEqual([]);
      expect(readdirSync(join(w.stateDir, 'vf'))).toEqual([]);
    });
  });
});

describe('locks across reboots and killed plugins', () => {
  const world = useWorld();

  it('a lock whose pid and start time match a live process, but from another boot, is broken', async () => {
    const w = world();
    mkdirSync(join(w.stateDir, 'lock'), { recursive: true });
    writeFileSync(lockPath(w), JSON.stringify({ pid: process.pid, start: startTime(process.pid), boot: '00000000-0000-0000-0000-000000000000' }));
    expect((await w.run('ADD', { lock_timeout_s: 2 })).exitCode).toBe(0);
  });

  it('the same lock from this boot holds', async () => {
    const w = world();
    mkdirSync(join(w.stateDir, 'lock'), { recursive: true });
    writeFileSync(lockPath(w), JSON.stringify({ pid: process.pid, start: startTime(process.pid), boot: bootId() }));
    expect(cniError(await w.run('ADD', { lock_timeout_s: 1 })).code).toBe(11);
  });

  it('GC removes the temp files of plugins killed while waiting for a lock, and keeps a live one\'s', async () => {
    const w = world();
    const dir = join(w.stateDir, 'lock');
    mkdirSync(dir, { recursive: true });
    const dead = join(dir, `${VF0}.lock.4194305.k1ll3d`);
    const empty = join(dir, `${VF0}.lock.4194306.3mpty`);
    const live = join(dir, `${VF0}.lock.${process.pid}.al1ve`);
    writeFileSync(dead, JSON.stringify({ pid: 4_194_305, start: '1', boot: bootId() }));
    writeFileSync(empty, ''); // killed between create and write
    utimesSync(empty, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    writeFileSync(live, JSON.stringify({ pid: process.pid, start: startTime(process.pid), boot: bootId() }));
    expect((await w.run('GC', { 'cni.dev/valid-attachments': [] })).exitCode).toBe(0);
    expect(readdirSync(dir)).toEqual([`${VF0}.lock.${process.pid}.al1ve`]);
  });
});

describe('one deadline per invocation', () => {
  const world = useWorld();

  it('a daemon that never answers: 11 at invocation_timeout_s, long before daemon_timeout_s', async () => {
    const w = world();
    w.daemon.setFault({ kind: 'hang' });
    const started = Date.now();
    const out = await w.run('ADD', { daemon_timeout_s: 100, invocation_timeout_s: 2 });
    expect(cniError(out)).toMatchObject({ code: 11, msg: 'ADD did not finish within 2s (invocation_timeout_s)' });
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('a lock a live process holds: 11 at invocation_timeout_s, long before lock_timeout_s', async () => {
    const w = world();
    mkdirSync(join(w.stateDir, 'lock'), { recursive: true });
    writeFileSync(lockPath(w), JSON.stringify({ pid: process.pid, start: startTime(process.pid), boot: bootId() }));
    const out = await w.run('DEL', { lock_timeout_s: 100, invocation_timeout_s: 1 });
    expect(cniError(out)).toMatchObject({ code: 11, msg: 'DEL did not finish within 1s (invocation_timeout_s)' });
  });

  it('a runtime that never closes stdin: 6 once the read times out', async () => {
    const w = world();
    const child = execa(PLUGIN_BIN, [], {
      env: { ...w.env, CNI_COMMAND: 'ADD', CNI_CONTAINERID: '5b45c61b307e0a9f8c7d6e5f4a3b2c1d', CNI_NETNS: w.liveNetns, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' },
      extendEnv: false,
      reject: false,
      timeout: 60_000,
      stdin: 'pipe',
    });
    child.stdin!.write(JSON.stringify(w.conf()).slice(0, 50));
    const out = await child;
    child.stdin!.destroy();
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(String(out.stdout))).toMatchObject({ code: 6, msg: 'stdin was not closed within 10s' });
  });
});
