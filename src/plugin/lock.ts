import { link, mkdir, readFile, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, Code } from '../cni/errors.js';

/**
 * A per-VF lock between plugin processes: a file created atomically with link(2), holding
 * the owner's pid and start time. A lock whose owner is gone (no such pid, or the pid was
 * reused by a later process) is broken, under a second short "breaker" lock, so two waiters
 * never both break it. Released by unlinking, only while it is still ours.
 */
export interface Lock {
  release(): Promise<void>;
}

interface Owner {
  pid: number;
  start: string;
}

const POLL_MS = 25;
const BREAKER_STALE_MS = 5_000;

export async function lockVf(dir: string, pci: string, timeoutMs: number, clock: () => number = Date.now): Promise<Lock> {
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
    throw lockError(dir, err);
  });
  const path = join(dir, `${pci}.lock`);
  const me: Owner = { pid: process.pid, start: startTime(process.pid) ?? '' };
  const mine = JSON.stringify(me);
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, mine, { mode: 0o600 }).catch((err: unknown) => {
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
      if (holder && (await isStale(path, holder))) await breakStale(path, holder.text);
      if (clock() >= deadline) {
        throw new CniError(Code.TryAgainLater, `VF ${pci} is busy: another ADD or DEL holds its lock`, `lock ${path} held by pid ${holder?.owner?.pid ?? '?'} for more than ${timeoutMs / 1000}s`);
      }
      await sleep(POLL_MS);
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Breaks a dead owner's lock, once: the breaker makes the re-read and unlink one step. */
async function breakStale(path: string, deadText: string): Promise<void> {
  const breaker = `${path}.break`;
  try {
    await writeFile(breaker, String(process.pid), { flag: 'wx', mode: 0o600 });
  } catch {
    // Someone else is breaking it, or died doing so: a breaker that old is itself stale.
    const age = await fileAgeMs(breaker);
    if (age !== undefined && age > BREAKER_STALE_MS) await unlink(breaker).catch(() => undefined);
    return;
  }
  try {
    const now = await readHolder(path);
    if (now && now.text === deadText) await unlink(path).catch(() => undefined);
  } finally {
    await unlink(breaker).catch(() => undefined);
  }
}

async function releaseIfMine(path: string, mine: string): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => '');
  if (text === mine) await unlink(path).catch(() => undefined);
}

interface Holder {
  text: string;
  /** Undefined when the file does not name an owner (emptied by a power loss, say). */
  owner?: Owner;
}

/** The lock file's content; undefined when it vanished between link() and here. */
async function readHolder(path: string): Promise<Holder | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const o = JSON.parse(text) as Owner;
    return { text, owner: typeof o.pid === 'number' && typeof o.start === 'string' ? o : undefined };
  } catch {
    return { text };
  }
}

// link() publishes a complete file, so one that names no owner was damaged, not half-written
// by a live process; it is stale once it is older than any plugin's start-up.
async function isStale(path: string, h: Holder): Promise<boolean> {
  if (h.owner) return !isAlive(h.owner);
  const age = await fileAgeMs(path);
  return age !== undefined && age > BREAKER_STALE_MS;
}

function isAlive(o: Owner): boolean {
  const start = startTime(o.pid);
  return start !== undefined && start === o.start;
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
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

function lockError(path: string, err: unknown): CniError {
  const e = err as NodeJS.ErrnoException;
  return new CniError(Code.IOFailure, `cannot take lock ${path}: ${e.code ?? e.message}`, e.message);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Removes the locks in `dir` whose owner is gone (a plugin killed mid-ADD); returns failures. */
export async function removeDeadLocks(dir: string): Promise<string[]> {
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const failures: string[] = [];
  for (const name of names.filter((n) => n.endsWith('.lock'))) {
    const path = join(dir, name);
    try {
      const holder = await readHolder(path);
      if (holder && (await isStale(path, holder))) await breakStale(path, holder.text);
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message}`);
    }
  }
  return failures;
}
