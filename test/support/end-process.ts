import type { ChildProcess } from 'node:child_process';

/** TERM, then KILL after 5 s; resolves once the process has exited (or never started). */
export async function endProcess(proc: ChildProcess | undefined): Promise<void> {
  if (!proc?.pid || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
