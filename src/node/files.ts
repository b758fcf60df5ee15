/**
 * The plugin's own small files (records, locks, device-info), read and made so that an odd
 * file left at their path cannot hang, redirect or flood it: reads never block on a FIFO,
 * never follow a symlink at the last component (unless asked, for others' files) and stop at
 * a size; creates are exclusive. Synchronous underneath (see fs-now.ts); async for callers.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

/** Something other than a regular file is at the path (a FIFO, a directory, a socket, a symlink). */
export class NotRegularFile extends Error {
  constructor(readonly path: string, readonly kind: string) {
    super(`${path} is ${kind}, not a regular file`);
  }
}

/** A regular file larger than the caller's limit. */
export class FileTooLarge extends Error {
  constructor(readonly path: string, readonly limit: number) {
    super(`${path} is larger than ${limit} bytes`);
  }
}

/**
 * The text of a regular file of at most `maxBytes`; ENOENT and other errors reject as fs does.
 * `followSymlinks` is for files others own that are symlinks by design (a CNI conf dir's
 * entries, the kubelet's ConfigMap volumes); the plugin's own files are never followed.
 */
export async function readRegularFile(path: string, maxBytes: number, opts: { followSymlinks?: boolean } = {}): Promise<string> {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NONBLOCK | (opts.followSymlinks ? 0 : O_NOFOLLOW));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new NotRegularFile(path, opts.followSymlinks ? 'a symlink loop' : 'a symlink');
    if (code === 'ENXIO') throw new NotRegularFile(path, 'a socket');
    throw err;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new NotRegularFile(path, kindOf(stat));
    // Not stat's size, which procfs reports as 0: read until EOF or one byte past the limit.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const bytesRead = readSync(fd, buffer, length, buffer.length - length, null);
      if (bytesRead === 0) return buffer.subarray(0, length).toString('utf8');
      length += bytesRead;
      if (length > maxBytes) throw new FileTooLarge(path, maxBytes);
    }
  } finally {
    closeSync(fd);
  }
}

/** Writes a new file: fails (EEXIST) when anything, a planted symlink included, is at the path. */
export async function createExclusive(path: string, data: string, mode: number): Promise<void> {
  const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    writeFileSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces the file at `path` with `data`, through a new file renamed into place: a reader sees
 * the old or the new, never half. A temp name already taken is not ours, and is left alone;
 * our own temp file is removed when the write or the rename fails (a full disk takes the
 * name, not the bytes).
 */
export async function replaceFile(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await createExclusive(tmp, data, mode);
    renameSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      try {
        unlinkSync(tmp);
      } catch {
        /* never made, or gone */
      }
    }
    throw err;
  }
}

function kindOf(stat: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  return stat.isDirectory() ? 'a directory'
    : stat.isFIFO() ? 'a FIFO'
    : stat.isSocket() ? 'a socket'
    : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device'
    : 'not a regular file';
}
