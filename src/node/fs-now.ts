/**
 * The few file system calls the plugin makes on its own small files (records, locks, its
 * state dir), with fs/promises' signatures but done at once, synchronously. Each is a few
 * microseconds on a local disk; a trip through libuv's thread pool costs more than the call,
 * and an ADD makes a dozen of them one after another. Callers keep awaiting them, so a
 * failure still arrives as a rejection.
 */
import { linkSync, lstatSync, mkdirSync, readdirSync, statSync, statfsSync, unlinkSync, type Stats, type StatsFs } from 'node:fs';

export async function link(existing: string, path: string): Promise<void> {
  linkSync(existing, path);
}

export async function lstat(path: string): Promise<Stats> {
  return lstatSync(path);
}

export async function mkdir(path: string, opts: { recursive: true; mode: number }): Promise<void> {
  mkdirSync(path, opts);
}

export async function readdir(path: string): Promise<string[]> {
  return readdirSync(path);
}

export async function stat(path: string): Promise<Stats> {
  return statSync(path);
}

export async function statfs(path: string): Promise<StatsFs> {
  return statfsSync(path);
}

export async function unlink(path: string): Promise<void> {
  unlinkSync(path);
}
