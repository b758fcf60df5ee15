/** A hostile log_file (a NAD's key): stdout still carries exactly one JSON document, and stderr says why the file was refused. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useWorld, VF0 } from '../support/harness.js';
import { PLUGIN_BIN } from '../support/plugin.js';

describe('a log_file that is not a regular file', () => {
  const world = useWorld();
  let dir = '';
  let rescue: NodeJS.Timeout | undefined;
  let rescuer = -1;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kovo-logfile-'));
  });
  afterEach(() => {
    clearTimeout(rescue);
    if (rescuer >= 0) closeSync(rescuer);
    rescuer = -1;
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['/dev/stdout', () => '/dev/stdout', 'a symbolic link, not followed'],
    ['/proc/self/fd/1', () => '/proc/self/fd/1', 'a symbolic link, not followed'],
    ['/dev/fd/1', () => '/dev/fd/1', 'a symbolic link, not followed'],
    ['a FIFO nobody reads', () => fifo(join(dir, 'log.fifo')), 'a FIFO'],
    ['a directory', () => (mkdirSync(join(dir, 'logs')), join(dir, 'logs')), 'a directory'],
  ])('%s: ADD prints its result alone on stdout and logs to stderr', async (_, path, why) => {
    const w = world();
    const logFile = path();
    // A plain open of a FIFO for writing waits for a reader: after 5 s this test becomes that
    // reader (O_RDWR never blocks), so a plugin that hangs there fails here instead of timing out.
    if (logFile.endsWith('.fifo')) rescue = setTimeout(() => (rescuer = openSync(logFile, constants.O_RDWR | constants.O_NONBLOCK)), 5_000);
    // After path confinement, a log_file outside /var/log needs its directory in KUBE_OVN_OFFLOAD_PATH_ROOTS.
    const roots = [w.env.KUBE_OVN_OFFLOAD_PATH_ROOTS, '/dev', '/proc', dir].filter(Boolean).join(':');
    const out = await w.run('ADD', { log_file: logFile }, { env: { ...w.env, KUBE_OVN_OFFLOAD_PATH_ROOTS: roots }, bin: behindPipe(dir) });

    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(out.stdout)).toMatchObject({ cniVersion: '1.1.0', interfaces: expect.arrayContaining([expect.objectContaining({ name: 'eth0', pciID: VF0 })]) });
    const lines = out.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => String(l.msg).startsWith('log_file '))).toEqual([
      expect.objectContaining({ level: 'warn', msg: `log_file ${logFile} is not a regular file (${why}): logging to stderr` }),
    ]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'offload checks' }));
  });
});

/**
 * The plugin with a real pipe on stdout, as libcni gives it (Go's os/exec): Node's child_process
 * hands a child a socket, which open("/dev/stdout") refuses, and that would hide the bug.
 */
function behindPipe(dir: string): string {
  const path = join(dir, 'plugin-behind-pipe');
  writeFileSync(path, `#!/bin/bash\nset -o pipefail\n${JSON.stringify(PLUGIN_BIN)} | cat\n`);
  chmodSync(path, 0o755);
  return path;
}

function fifo(path: string): string {
  execFileSync('mkfifo', [path]);
  return path;
}
