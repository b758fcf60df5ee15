import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { CniError, Code, firstLine } from '../cni/errors.js';
import { tooDeep } from '../cni/preview.js';

export interface ToolOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What a tool said, and who said it; `none` when it could not answer (absent, no support). */
export type Answer<T> = { value: T; source: string } | { value?: undefined; source: 'none'; why: string };

/** Runs a node tool found on PATH. `absent` when it is not installed (thick Multus images). */
export type RunTool = (tool: string, args: string[]) => Promise<ToolOutput | 'absent'>;

/** stdout and stderr of one tool run together; a tool printing more than this is broken (5). */
export const MAX_TOOL_OUTPUT_BYTES = 16 * 1024 * 1024;

/**
 * One wrapper for every child process: a timeout (SIGKILL: a tool stuck in the kernel
 * ignores gentler signals), stdout and stderr captured, no exception for a non-zero exit
 * (callers decide what an exit code means for that tool), and cancellation once the answer
 * is known. Node's own child_process, not execa: loading execa cost every pod ~20 ms of
 * start-up (bench/results.md), and this is all the plugin needs of it.
 */
export function toolRunner(timeoutMs: number, env: NodeJS.ProcessEnv = process.env, cancelSignal?: AbortSignal): RunTool {
  return (tool, args) =>
    new Promise((resolve, reject) => {
      const cmd = `${tool} ${args.join(' ')}`;
      if (cancelSignal?.aborted) return reject(new CniError(Code.IOFailure, `${tool} was cancelled`, cmd));
      // Its own process group, so a timeout kills what the tool started too (a wrapper
      // script's children would otherwise hold the pipes open, and us with them).
      const child = spawn(tool, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (f: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        cancelSignal?.removeEventListener('abort', onAbort);
        f();
      };
      // Settles at once, without waiting for 'exit' or 'close': a tool in uninterruptible sleep
      // outlives SIGKILL, and a child that left its group (setsid, a daemon) may hold the pipes
      // for ever. Neither keeps the plugin alive: the pipes are closed and the child unref'd.
      const stop = (err: CniError) => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
        child.stdout.destroy();
        child.stderr.destroy();
        child.unref();
        settle(() => reject(err));
      };
      const timer = setTimeout(() => {
        const exited = child.exitCode !== null || child.signalCode !== null;
        const why = exited ? `\`${cmd}\` exited, but what it started still held its output after ${timeoutMs} ms` : `\`${cmd}\` was killed after ${timeoutMs} ms; is the kernel or the driver stuck?`;
        stop(new CniError(Code.IOFailure, `${tool} did not answer within ${timeoutMs / 1000}s`, why));
      }, timeoutMs);
      const onAbort = () => stop(new CniError(Code.IOFailure, `${tool} was cancelled`, cmd));
      cancelSignal?.addEventListener('abort', onAbort, { once: true });
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_TOOL_OUTPUT_BYTES) stop(new CniError(Code.IOFailure, `${tool} printed more than ${MAX_TOOL_OUTPUT_BYTES} bytes`, cmd));
        else into.push(chunk);
      };
      child.stdout.on('data', collect(stdout));
      child.stderr.on('data', collect(stderr));
      child.on('error', (err: NodeJS.ErrnoException) =>
        settle(() => (err.code === 'ENOENT' ? resolve('absent') : reject(new CniError(Code.IOFailure, `${tool} could not be run: ${firstLine(err.message)}`, cmd)))),
      );
      child.on('close', (code, signal) =>
        settle(() => resolve({ exitCode: code ?? 128 + (signal ? osSignal(signal) : 0), stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') })),
      );
    });
}

function osSignal(name: NodeJS.Signals): number {
  return constants.signals[name] ?? 0;
}

/** The JSON a tool printed, or an I/O error that quotes what it printed instead. */
export function parseToolJson(tool: string, args: string[], out: ToolOutput): unknown {
  try {
    const doc: unknown = JSON.parse(out.stdout);
    // devlink, ethtool and ip print 4–5 levels; deeper is garbage that recursive code must not see.
    if (tooDeep(doc, MAX_TOOL_JSON_DEPTH)) throw garbage(tool, args, out, `printed JSON nested deeper than ${MAX_TOOL_JSON_DEPTH} levels`);
    return doc;
  } catch (err) {
    if (err instanceof CniError) throw err;
    throw garbage(tool, args, out, 'printed output that is not JSON');
  }
}

const MAX_TOOL_JSON_DEPTH = 64;

export function garbage(tool: string, args: string[], out: ToolOutput, what: string): CniError {
  const shown = out.stdout.trim().slice(0, 120) || out.stderr.trim().slice(0, 120);
  return new CniError(Code.IOFailure, `${tool} ${what}`, `\`${tool} ${args.join(' ')}\` exited ${out.exitCode}: ${JSON.stringify(shown)}`);
}
