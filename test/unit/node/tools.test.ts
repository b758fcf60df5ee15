/** The one wrapper every node tool runs through: exit codes, absence, timeouts, cancellation. */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolRunner } from '../../../src/node/tools.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kovo-tool-'));
  dirs.push(dir);
  return dir;
}
function script(body: string): string {
  const path = join(tempDir(), 'tool');
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
/** Processes a test left running on purpose (in their own session: no group kill reaches them). */
const strays: string[] = [];
afterEach(async () => {
  for (const pidFile of strays.splice(0)) {
    // The tool writes the pid as its first act; give a slow start a moment.
    for (let i = 0; i < 50 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 20));
    const pid = Number(existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : NaN);
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Settles `p` or says 'hung' after `ms`, so a regression fails fast instead of at the test timeout. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)));
  return Promise.race([p, hung]).finally(() => clearTimeout(timer));
}

describe('toolRunner', () => {
  it('returns exit code, stdout and stderr without throwing on a non-zero exit', async () => {
    const out = await toolRunner(5000)(script('echo out; echo err >&2; exit 3'), []);
    expect(out).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('says absent for a tool that is not installed', async () => {
    expect(await toolRunner(5000)('/nonexistent/devlink', [])).toBe('absent');
  });

  it('kills a hung tool and what it started at the deadline: 5, naming the tool', async () => {
    // The shell waits on a sleep that holds the pipes: killing the shell alone would hang us for 30 s.
    const started = Date.now();
    await expect(toolRunner(300)(script('sleep 30; echo late'), [])).rejects.toMatchObject({ code: 5, message: expect.stringMatching(/did not answer within 0.3s$/) });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('ends at the deadline with 5 when the tool exited but left a process in another session holding its stdout', async () => {
    // A daemonizing child: setsid puts it out of the tool's process group, so the group kill
    // misses it, and it keeps the stdout pipe open long after the tool itself exited 0.
    const pidFile = join(tempDir(), 'sleeper.pid');
    strays.push(pidFile);
    const tool = script(`setsid sh -c 'echo $$ > ${pidFile}; exec sleep 30' &\necho hi\nexit 0`);
    const started = Date.now();
    const outcome = await within(toolRunner(300)(tool, []).then((v) => ({ resolved: v }), (e: unknown) => e), 5_000);
    // The conditions the test is about: the sleeper runs in a session of its own, with the pipe.
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    expect(session).toBe(pid);
    expect(readlinkSync(`/proc/${pid}/fd/1`)).toMatch(/^(pipe|socket):/); // node's stdio pipes are socketpairs

    expect(outcome).toMatchObject({ code: 5, message: expect.stringMatching(/did not answer within 0.3s$/) });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('stops a running tool once the answer is known (cancelled)', async () => {
    const ac = new AbortController();
    const pending = toolRunner(60_000, process.env, ac.signal)(script('sleep 30'), []);
    setTimeout(() => ac.abort(), 100);
    await expect(pending).rejects.toMatchObject({ code: 5, message: expect.stringMatching(/was cancelled$/) });
  });
});
