import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, writeSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { LogLevel } from '../cni/config.js';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** Adds fields (containerID, deviceID, uplink, representor…) to every later line. */
  with(fields: Fields): void;
}

/**
 * One JSON line per event, to `file` (opened for each line, so log rotation is safe) or to
 * stderr. Never stdout: stdout belongs to the CNI result. `file` comes from the network config,
 * which anyone who may write a NetworkAttachmentDefinition controls: only a regular file is a
 * log. Anything else (a symlink such as /dev/stdout, a FIFO, a socket, a directory, a device)
 * sends every line to stderr, after one warning that says why; a line that cannot be written
 * (disk full) goes to stderr alone.
 */
export function createLogger(opts: { file: string; level: LogLevel; clock?: () => Date }): Logger {
  const context: Fields = {};
  const clock = opts.clock ?? (() => new Date());
  const format = (level: LogLevel, msg: string, fields: Fields) =>
    JSON.stringify({ ts: clock().toISOString(), level, msg, ...context, ...fields }) + '\n';
  const toStderr = (line: string) => void process.stderr.write(line);
  let sink = toStderr;
  if (opts.file) {
    const file = opts.file;
    let warnedOfFailure = false;
    sink = (line) => {
      const outcome = appendLine(file, line);
      if (outcome === 'written') return;
      if ('refused' in outcome) {
        sink = toStderr; // the path is not a log; asking again on every line would only warn again
        toStderr(format('warn', `log_file ${file} is not a regular file (${outcome.refused}): logging to stderr`, {}));
      } else if (!warnedOfFailure) {
        warnedOfFailure = true;
        toStderr(format('warn', `log_file ${file} could not be written (${outcome.failed}): lines that fail go to stderr`, {}));
      }
      toStderr(line);
    };
  }
  const emit = (level: LogLevel) => (msg: string, fields: Fields = {}) => {
    if (RANK[level] < RANK[opts.level]) return;
    sink(format(level, msg, fields));
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    with(fields) {
      Object.assign(context, fields);
    },
  };
}

// O_NOFOLLOW: a symlink at the path fails ELOOP, also the magic ones (/dev/stdout → /proc/self/fd/1).
// O_NONBLOCK: a FIFO without a reader fails ENXIO, as a socket does, instead of waiting forever.
// O_NOCTTY: a terminal never becomes ours. Node (libuv) adds O_CLOEXEC itself.
const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

type Outcome = 'written' | { refused: string } | { failed: string };

/** Appends `line` to the regular file at `file`, creating it (0640) and its directories (0755). */
function appendLine(file: string, line: string): Outcome {
  // lstat first, so nothing but a regular file is ever opened: opening some devices acts
  // (/dev/watchdog arms the watchdog). The open's flags and fstat close the race that remains.
  const existing = lstatOrNull(file);
  if (existing && !existing.isFile()) return { refused: kindOf(existing) };
  let fd: number;
  try {
    fd = openAppend(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENXIO' || code === 'EISDIR') return { refused: kindOf(lstatOrNull(file)) };
    return { failed: reason(err) };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { refused: kindOf(st) };
    // One write, so the lines of plugins running side by side (O_APPEND) do not interleave.
    const bytes = Buffer.from(line);
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
    return 'written';
  } catch (err) {
    return { failed: reason(err) };
  } finally {
    try {
      closeSync(fd);
    } catch {
      // The line was written, or is already on its way to stderr.
    }
  }
}

function openAppend(file: string): number {
  try {
    return openSync(file, APPEND, 0o640);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // An explicit 0755: the default (0777 & ~umask) is world-writable under umask 0.
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    return openSync(file, APPEND, 0o640);
  }
}

function lstatOrNull(file: string): Stats | null {
  try {
    return lstatSync(file);
  } catch {
    return null; // absent (created on open), or unreadable: the open will say which
  }
}

function kindOf(st: Stats | null): string {
  if (!st) return 'gone';
  if (st.isSymbolicLink()) return 'a symbolic link, not followed';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a file';
}

// "ENOSPC: no space left on device, write" → "ENOSPC: no space left on device"
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message.replace(/^\w+: /, '').replace(/, \w+( '.*')?$/, '')}` : String(err);
}
