/**
 * A network namespace of its own for a test's pods: /proc/<pid>/ns/net of a `cat` that
 * unshare(1) started in a new one (as root; in a new user namespace too otherwise). The
 * plugin refuses its own netns as CNI_NETNS, so tests cannot hand it theirs. `cat` reads
 * our pipe, so it ends with this process even when this process is killed.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';

export interface NetnsHolder {
  /** /proc/<pid>/ns/net: an nsfs file while the holder lives. */
  path: string;
  /** Resolves once the path names the new namespace (unshare has run). */
  ready: Promise<void>;
  /** Ends the holder; resolves when it has exited, so the namespace is gone. */
  destroy(): Promise<void>;
}

export function holdNetns(): NetnsHolder {
  const asRoot = process.getuid?.() === 0;
  const child = spawn('unshare', asRoot ? ['--net', 'cat'] : ['--user', '--map-root-user', '--net', 'cat'], { stdio: ['pipe', 'ignore', 'inherit'] });
  child.stdin.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const path = `/proc/${child.pid}/ns/net`;
  const own = statSync('/proc/self/ns/net').ino;
  const ready = new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    child.once('error', reject);
    const poll = () => {
      let ino: number | undefined;
      try {
        ino = statSync(path).ino;
      } catch {
        /* not yet, or gone */
      }
      if (ino !== undefined && ino !== own) return resolve();
      if (child.exitCode !== null || Date.now() > deadline) return reject(new Error(`unshare --net did not make a network namespace (${path})`));
      setTimeout(poll, 5);
    };
    poll();
  });
  return {
    path,
    ready,
    async destroy() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
