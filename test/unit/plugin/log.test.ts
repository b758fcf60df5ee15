/** The logger and a hostile log_file: only a regular file gets lines; anything else is refused, once, on stderr. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/plugin/log.js';

let dir = '';
let stderr: string[] = [];
let stdoutWrite: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kovo-log-'));
  stderr = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
  stdoutWrite = vi.spyOn(process.stdout, 'write');
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

/** Two lines through a logger on `file`: what the pod's story looks like. */
function logTwoLines(file: string): void {
  const log = createLogger({ file, level: 'info' });
  log.with({ containerID: 'c0ffee' });
  log.info('offload checks');
  log.info('added');
}

/** What reached stderr, one parsed JSON object per line. */
function stderrLines(): Array<Record<string, unknown>> {
  return stderr.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** stderr holds one warning that names the file and why, then every line, nothing on stdout. */
function expectFellBack(file: string, why: string): void {
  expect(stderrLines()).toEqual([
    expect.objectContaining({ level: 'warn', msg: `log_file ${file} is not a regular file (${why}): logging to stderr`, containerID: 'c0ffee' }),
    expect.objectContaining({ level: 'info', msg: 'offload checks', containerID: 'c0ffee' }),
    expect.objectContaining({ level: 'info', msg: 'added', containerID: 'c0ffee' }),
  ]);
  expect(stdoutWrite).not.toHaveBeenCalled();
}

function mkfifo(path: string): string {
  execFileSync('mkfifo', [path]);
  return path;
}

/** Bytes waiting in a FIFO, read through `fd` (opened O_NONBLOCK): 0 when it is empty. */
function pending(fd: number): number {
  try {
    return readSync(fd, Buffer.alloc(65536));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
    throw err;
  }
}

describe('createLogger with a log_file', () => {
  it('writes lines to a regular file (0640) under directories it creates 0755, even with umask 0', () => {
    const file = join(dir, 'var/log/kube-ovn/offload.log');
    const umask = process.umask(0);
    try {
      logTwoLines(file);
    } finally {
      process.umask(umask);
    }
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', msg: 'offload checks', containerID: 'c0ffee' }),
      expect.objectContaining({ level: 'info', msg: 'added', containerID: 'c0ffee' }),
    ]);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    for (const d of ['var', 'var/log', 'var/log/kube-ovn']) expect(statSync(join(dir, d)).mode & 0o777, d).toBe(0o755);
    expect(stderr).toEqual([]);
  });

  it('does not block on a FIFO without a reader, and logs to stderr', () => {
    const fifo = mkfifo(join(dir, 'log.fifo'));
    // A plain open for writing would wait for a reader forever, in this very thread. This child
    // becomes that reader after 2 s, so a regression fails the test instead of hanging the run.
    const rescuer = spawn(process.execPath, ['-e', `setTimeout(() => { require('fs').openSync(${JSON.stringify(fifo)}, 'r+'); setInterval(() => {}, 1e6); }, 2000)`], { stdio: 'ignore' });
    let reader = -1;
    try {
      logTwoLines(fifo);
      reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      expect(pending(reader)).toBe(0);
    } finally {
      if (reader >= 0) closeSync(reader);
      rescuer.kill('SIGKILL');
    }
    expectFellBack(fifo, 'a FIFO');
  });

  it('sends nothing into a FIFO that has a reader, and logs to stderr', () => {
    const fifo = mkfifo(join(dir, 'log.fifo'));
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      logTwoLines(fifo);
      expect(pending(reader)).toBe(0);
    } finally {
      closeSync(reader);
    }
    expectFellBack(fifo, 'a FIFO');
  });

  it('refuses a directory', () => {
    const target = join(dir, 'logs');
    mkdirSync(target);
    logTwoLines(target);
    expectFellBack(target, 'a directory');
  });

  it('refuses a unix socket', async () => {
    const path = join(dir, 'log.sock');
    const server: Server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
    try {
      logTwoLines(path);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expectFellBack(path, 'a socket');
  });

  it('does not follow a symlink planted at the log path', () => {
    const target = join(dir, 'victim');
    writeFileSync(target, '');
    const link = join(dir, 'offload.log');
    symlinkSync(target, link);
    logTwoLines(link);
    expect(readFileSync(target, 'utf8')).toBe('');
    expectFellBack(link, 'a symbolic link, not followed');
  });

  it.each(['/dev/stdout', '/proc/self/fd/1', '/dev/fd/1'])('never writes to stdout through %s', (file) => {
    logTwoLines(file);
    expectFellBack(file, 'a symbolic link, not followed');
  });

  it('sends a line it cannot write to stderr, with one warning that says why', () => {
    const parent = join(dir, 'not-a-dir');
    writeFileSync(parent, '');
    const file = join(parent, 'offload.log');
    logTwoLines(file);
    const lines = stderrLines();
    expect(lines).toEqual([
      expect.objectContaining({ level: 'warn', msg: expect.stringMatching(new RegExp(`^log_file ${file} could not be written \\(ENOTDIR: .*\\): lines that fail go to stderr$`)) }),
      expect.objectContaining({ level: 'info', msg: 'offload checks' }),
      expect.objectContaining({ level: 'info', msg: 'added' }),
    ]);
  });
});
