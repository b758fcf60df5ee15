import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CniError, Code } from '../cni/errors.js';

/**
 * Reads /sys under a root (KUBE_OVN_OFFLOAD_SYSFS_ROOT, default "/"), so tests hand it a
 * tree of real folders and symlinks. Absence is an answer (undefined / []); any other
 * failure is an I/O error naming the file. Synchronous underneath: a sysfs attribute is read
 * in microseconds, and each trip through the thread pool cost more than the read (a PF with
 * 128 VFs lists 129 netdevs to look through); the methods stay async for their callers.
 */
export class Sysfs {
  constructor(readonly root: string) {}

  path(...parts: string[]): string {
    return join(this.root, 'sys', ...parts);
  }

  pciDevice(pci: string, ...rest: string[]): string {
    return this.path('bus', 'pci', 'devices', pci, ...rest);
  }

  netdev(name: string, ...rest: string[]): string {
    return this.path('class', 'net', name, ...rest);
  }

  /** File content without the trailing newline; undefined when absent or not supported. */
  async read(path: string): Promise<string | undefined> {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (err) {
      if (isAbsent(err)) return undefined;
      throw ioError(path, err);
    }
  }

  async list(path: string): Promise<string[]> {
    try {
      return readdirSync(path).sort();
    } catch (err) {
      if (isAbsent(err)) return [];
      throw ioError(path, err);
    }
  }

  /** Basename of a symlink's target ("physfn" → "0000:42:00.0"); undefined when absent. */
  async linkName(path: string): Promise<string | undefined> {
    try {
      return basename(readlinkSync(path));
    } catch (err) {
      if (isAbsent(err)) return undefined;
      throw ioError(path, err);
    }
  }
}

// EOPNOTSUPP/EINVAL: phys_port_name and phys_switch_id of a device without the ndo.
// EINVAL on readlink: a plain file where a link was expected.
function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EOPNOTSUPP' || code === 'EINVAL' || code === 'ENODEV';
}

function ioError(path: string, err: unknown): CniError {
  const e = err as NodeJS.ErrnoException;
  return new CniError(Code.IOFailure, `cannot read ${path}: ${e.code ?? e.message}`, e.message);
}
