/** The one wrapper every node tool runs through: exit codes, absence, timeouts, cancellation. */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolRunner } from '../../src/node/tools.js';

const dirs: string[] = [];
function script(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kovo-tool-'));
  dirs.push(dir);
  const path = join(dir, 'tool');
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

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

  it('stops a running tool once the answer is known (cancelled)', async () => {
    const ac = new AbortController();
    const pending = toolRunner(60_000, process.env, ac.signal)(script('sleep 30'), []);
    setTimeout(() => ac.abort(), 100);
    await expect(pending).rejects.toMatchObject({ code: 5, message: expect.stringMatching(/was cancelled$/) });
  });
});
