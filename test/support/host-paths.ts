/**
 * What a test makes at a host path it cannot choose (Multus's hard-coded kubelet socket,
 * device-info and service-account paths): each directory and file is made only when missing and
 * recorded, as it is made, in a marker file under the test's own directory, and `remove()` takes
 * away exactly those, never one that was there before. A directory this test made is removed with
 * what is inside it: nothing was in it before.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface HostPaths {
  /** The marker file: `{ owner, dirs, files }`, the paths this ledger made, in the order made. */
  marker: string;
  /** Makes each missing directory of the chain down to `path`. */
  mkdirs(path: string): void;
  /** Writes a file that must not exist yet (or was written by this ledger). */
  writeFile(path: string, content: string, mode?: number): void;
  /** Records a path that something this test started makes (a socket), to be removed if left. */
  own(path: string): void;
  /** Removes what was recorded, files first, then directories deepest first; throws with what failed. */
  remove(): void;
}

export function hostPaths(dir: string, name: string): HostPaths {
  const marker = join(dir, `host-paths-${name}.json`);
  if (existsSync(marker)) throw new Error(`${marker} exists: the host paths of an earlier ${name} were not removed; remove those listed in it, then the file`);
  const dirs: string[] = [];
  const files: string[] = [];
  const save = () => writeFileSync(marker, `${JSON.stringify({ owner: process.pid, dirs, files }, null, 2)}\n`);
  save();

  return {
    marker,
    mkdirs(path) {
      let p = '/';
      for (const part of resolve(path).split('/').filter(Boolean)) {
        p = join(p, part);
        if (existsSync(p)) continue;
        try {
          mkdirSync(p, { mode: 0o755 });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // made by someone else meanwhile: not ours
          throw err;
        }
        dirs.push(p);
        save();
      }
    },
    writeFile(path, content, mode = 0o644) {
      if (!files.includes(path)) {
        if (existsSync(path)) throw new Error(`${path} exists and was not written by this test; not replacing it`);
        files.push(path);
        save();
      }
      writeFileSync(path, content, { mode });
    },
    own(path) {
      if (!files.includes(path)) files.push(path);
      save();
    },
    remove() {
      const failures: string[] = [];
      const attempt = (path: string, recursive: boolean) => {
        try {
          rmSync(path, { force: true, recursive });
        } catch (err) {
          failures.push(`${path}: ${(err as Error).message}`);
        }
      };
      for (const f of [...files].reverse()) if (isFileLike(f)) attempt(f, false);
      for (const d of [...dirs].reverse()) attempt(d, true);
      if (failures.length > 0) throw new Error(`host paths of ${name} left behind (see ${marker}): ${failures.join('; ')}`);
      rmSync(marker, { force: true });
    },
  };
}

/** Never follow or remove a directory recorded as a file. */
function isFileLike(path: string): boolean {
  try {
    return !lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The marker's content, for a test that checks what was made. */
export function readMarker(marker: string): { owner: number; dirs: string[]; files: string[] } {
  return JSON.parse(readFileSync(marker, 'utf8'));
}
