import { execa } from 'execa';
import { CniError, Code, firstLine } from '../cni/errors.js';

export interface ToolOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What a tool said, and who said it; `none` when it could not answer (absent, no support). */
export type Answer<T> = { value: T; source: string } | { value?: undefined; source: 'none'; why: string };

/** Runs a node tool found on PATH. `absent` when it is not installed (thick Multus images). */
export type RunTool = (tool: string, args: string[]) => Promise<ToolOutput | 'absent'>;

/**
 * One wrapper for every child process: a timeout, stderr captured into the error, and no
 * exception for a non-zero exit (callers decide what an exit code means for that tool).
 */
export function toolRunner(timeoutMs: number, env: NodeJS.ProcessEnv = process.env, cancelSignal?: AbortSignal): RunTool {
  return async (tool, args) => {
    const r = await execa(tool, args, { timeout: timeoutMs, cancelSignal, reject: false, env, extendEnv: false, stdin: 'ignore', stripFinalNewline: false });
    const cmd = `${tool} ${args.join(' ')}`;
    if (r.isCanceled) throw new CniError(Code.IOFailure, `${tool} was cancelled`, cmd);
    if (r.timedOut) {
      throw new CniError(Code.IOFailure, `${tool} did not answer within ${timeoutMs / 1000}s`, `\`${cmd}\` was killed after ${timeoutMs} ms; is the kernel or the driver stuck?`);
    }
    const code = (r as { code?: string }).code;
    if (code === 'ENOENT') return 'absent';
    if (r.failed && r.exitCode === undefined) {
      throw new CniError(Code.IOFailure, `${tool} could not be run: ${firstLine(r.message ?? '')}`, cmd);
    }
    return { exitCode: r.exitCode ?? 0, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
}

/** The JSON a tool printed, or an I/O error that quotes what it printed instead. */
export function parseToolJson(tool: string, args: string[], out: ToolOutput): unknown {
  try {
    return JSON.parse(out.stdout);
  } catch {
    throw garbage(tool, args, out, 'printed output that is not JSON');
  }
}

export function garbage(tool: string, args: string[], out: ToolOutput, what: string): CniError {
  const shown = out.stdout.trim().slice(0, 120) || out.stderr.trim().slice(0, 120);
  return new CniError(Code.IOFailure, `${tool} ${what}`, `\`${tool} ${args.join(' ')}\` exited ${out.exitCode}: ${JSON.stringify(shown)}`);
}
