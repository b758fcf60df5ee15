import { link, lstat, mkdir, readdir, unlink } from '../node/fs-now.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, Code } from '../cni/errors.js';
import { createExclusive, FileTooLarge, NotRegularFile, readRegularFile } from '../node/files.js';

/**
 * A per-VF lock between plugin processes: a file created atomically with link(2), holding
 * the owner's pid, start time and boot id. A lock whose owner is gone (no such pid, the pid
 * reused by a later process, or a boot ago: /var/lib outlives a reboot) is broken, under a
 * second short "breaker" lock, so two waiters never both break it. Released by unlinking,
 * only while it is still ours.
 */
export interface Lock {
  release(): Promise<void>;
}

/** The lock could not be taken for a reason other than a live holder: the disk, or an odd file at its path. */
export class LockIoError extends CniError {}

interface Owner {
  pid: number;
  start: string;
  /** /proc/sys/kernel/random/boot_id; absent in locks of releases before it was kept. */
  boot?: string;
}

const POLL_MS = 25;
const BREAKER_STALE_MS = 5_000;

export async function lockVf(dir: string, pci: string, timeoutMs: number, clock: () => number = Date.now): Promise<Lock> {
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
    throw lockError(dir, err);
  });
  const path = join(dir, `${pci}.lock`);
  const me: Owner = { pid: process.pid, start: startTime(process.pid) ?? '', boot: bootId() };
  const mine = JSON.stringify(me);
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await createExclusive(tmp, mine, 0o600).catch(async (err: unknown) => {
    // A full disk may take the name but not the bytes: leave no empty file behind.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') await unlink(tmp).catch(() => undefined);
    throw lockError(tmp, err);
  });
  const deadline = clock() + timeoutMs;
  try {
    for (;;) {
      try {
        await link(tmp, path); // fails with EEXIST while someone holds it
        return { release: () => releaseIfMine(path, mine) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw lockError(path, err);
      }
      const holder = await readHolder(path);
      if (holder && (await isStale(path, holder))) {
        const failed = await breakStale(path, holder.text);
        // Not ours to wait for: a directory, say, that no release of the plugin would make.
        if (failed && holder.odd) throw lockError(path, failed, `${path} is ${holder.odd}, not a lock file; remove it: rm -r ${path}`);
      }
      if (clock() >= deadline) {
        throw new CniError(Code.TryAgainLater, `VF ${pci} is busy: another ADD or DEL holds its lock`, `lock ${path} held by pid ${holder?.owner?.pid ?? '?'} for more than ${timeoutMs / 1000}s`);
      }
      await sleep(POLL_MS);
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Breaks a dead owner's lock, once: the breaker makes the re-read and unlink one step.
 * Returns why the lock could not be removed, if it could not.
 */
async function breakStale(path: string, deadText: string): Promise<unknown> {
  const breaker = `${path}.break`;
  try {
    await createExclusive(breaker, String(process.pid), 0o600);
  } catch {
    // Someone else is breaking it, or died doing so: a breaker that old is itself stale.
    const age = await fileAgeMs(breaker);
    if (age !== undefined && age > BREAKER_STALE_MS) await unlink(breaker).catch(() => undefined);
    return undefined;
  }
  try {
    const now = await readHolder(path);
    if (now && now.text === deadText) return await unlink(path).then(() => undefined, (err: unknown) => err);
    return undefined;
  } finally {
    await unlink(breaker).catch(() => undefined);
  }
}

async function releaseIfMine(path: string, mine: string): Promise<void> {
  const holder = await readHolder(path).catch(() => undefined);
  if (holder?.text === mine) await unlink(path).catch(() => undefined);
}

interface Holder {
  text: string;
  /** Undefined when the file does not name an owner (emptied by a power loss, say). */
  owner?: Owner;
  /** What is at the path when it is not a regular file (a FIFO, a directory left by hand). */
  odd?: string;
}

const MAX_LOCK_FILE = 4096; // {"pid":…,"start":…,"boot":…} is under 100 bytes

/** The lock file's content; undefined when it vanished between link() and here. */
async function readHolder(path: string): Promise<Holder | undefined> {
  let text: string;
  try {
    text = await readRegularFile(path, MAX_LOCK_FILE);
  } catch (err) {
    if (err instanceof FileTooLarge) return { text: '' };
    if (!(err instanceof NotRegularFile)) return undefined;
    // Its inode tells this odd file from a real lock linked in its place after it was removed.
    const ino = await lstat(path).then((s) => s.ino, () => undefined);
    return ino === undefined ? undefined : { text: `\0${err.kind} ${ino}`, odd: err.kind };
  }
  try {
    const o = JSON.parse(text) as Owner;
    const owner = typeof o.pid === 'number' && typeof o.start === 'string' && (o.boot === undefined || typeof o.boot === 'string') ? o : undefined;
    return { text, owner };
  } catch {
    return { text };
  }
}

// link() publishes a complete file, so one that names no owner was damaged, not half-written
// by a live process; it is stale once it is older than any plugin's start-up. The plugin
// never makes anything but regular files here, so anything else is stale at once.
async function isStale(path: string, h: Holder): Promise<boolean> {
  if (h.odd) return true;
  if (h.owner) return !isAlive(h.owner);
  const age = await fileAgeMs(path);
  return age !== undefined && age > BREAKER_STALE_MS;
}

function isAlive(o: Owner): boolean {
  // A pid and start time from another boot may name a live process of this one.
  if (o.boot !== undefined && o.boot !== bootId()) return false;
  const start = startTime(o.pid);
  return start !== undefined && start === o.start;
}

let boot: string | undefined;
/** This boot's id; '' where the kernel has none to give. */
export function bootId(): string {
  if (boot === undefined) {
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      boot = '';
    }
  }
  return boot;
}

/** Field 22 of /proc/<pid>/stat, the start time in clock ticks: tells a reused pid apart. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

async function fileAgeMs(path: string): Promise<number | undefined> {
  try {
    return Date.now() - (await lstat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

function lockError(path: string, err: unknown, details?: string): LockIoError {
  const e = err as NodeJS.ErrnoException;
  return new LockIoError(Code.IOFailure, `cannot take lock ${path}: ${e.code ?? e.message}`, details ?? `${e.message}; is state_dir writable, and its disk not full?`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// What lockVf leaves when it is killed: its temp file <pci>.lock.<pid>.<random>, and a breaker.
const TEMP = /\.lock\.\d+\.[a-z0-9]+$/;
const BREAKER = /\.lock\.break$/;

/**
 * Removes what dead plugins left in `dir` (a plugin killed mid-ADD): locks whose owner is gone,
 * their temp files and breakers; returns failures.
 */
export async function removeDeadLocks(dir: string): Promise<string[]> {
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const failures: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (name.endsWith('.lock')) {
        const holder = await readHolder(path);
        if (holder && (await isStale(path, holder))) {
          const failed = await breakStale(path, holder.text);
          if (failed && holder.odd) throw lockError(path, failed, `${path} is ${holder.odd}, not a lock file; remove it: rm -r ${path}`);
        }
      } else if (TEMP.test(name)) {
        // Only its creator ever uses a temp file, so a dead creator's can go without a breaker.
        const holder = await readHolder(path);
        if (holder && (await isStale(path, holder))) await unlink(path);
      } else if (BREAKER.test(name)) {
        const age = await fileAgeMs(path);
        if (age !== undefined && age > BREAKER_STALE_MS) await unlink(path);
      }
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message}`);
    }
  }
  return failures;
}
