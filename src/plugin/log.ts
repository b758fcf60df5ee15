import { appendFileSync, mkdirSync } from 'node:fs';
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
 * stderr. Never stdout: stdout belongs to the CNI result.
 */
export function createLogger(opts: { file: string; level: LogLevel; clock?: () => Date }): Logger {
  const context: Fields = {};
  const clock = opts.clock ?? (() => new Date());
  let sink: (line: string) => void = (line) => process.stderr.write(line);
  if (opts.file) {
    const file = opts.file;
    sink = (line) => {
      try {
        mkdirSync(dirname(file), { recursive: true });
        appendFileSync(file, line, { mode: 0o640 });
      } catch {
        process.stderr.write(line);
      }
    };
  }
  const emit = (level: LogLevel) => (msg: string, fields: Fields = {}) => {
    if (RANK[level] < RANK[opts.level]) return;
    sink(JSON.stringify({ ts: clock().toISOString(), level, msg, ...context, ...fields }) + '\n');
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
