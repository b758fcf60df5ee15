/** Runs the built bundle's operator CLI as a process, as an operator would (no CNI_COMMAND); stdout and stderr as printed, final newline kept. */
import { execa } from 'execa';
import { PLUGIN_BIN } from './plugin.js';

export interface CliOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function cli(args: string[], env: Record<string, string>): Promise<CliOutcome> {
  // Through this node, not the script's #!: a test's PATH may hold only its fakes.
  const r = await execa(process.execPath, [PLUGIN_BIN, ...args], { env, extendEnv: false, reject: false, timeout: 60_000, stdin: 'ignore', stripFinalNewline: false });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
