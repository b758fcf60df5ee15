import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Sysfs } from '../node/sysfs.js';
import { toolRunner, type RunTool } from '../node/tools.js';

/** What a CLI command writes to and reads from: injected, so tests capture it. */
export interface CliIo {
  argv: string[];
  env: NodeJS.ProcessEnv;
  out: (s: string) => void;
  err: (s: string) => void;
  /** Colour only when stdout is a terminal. */
  isTTY: boolean;
}

/** An operator CLI command: loaded by main.ts when asked for, run with its own arguments. */
export interface Command {
  name: string;
  summary: string;
  help: string;
  run(io: CliIo): Promise<number>;
}

/**
 * The host as the CLI sees it, through the same seams as the plugin (docs/configuration.md#environment): /sys,
 * /proc and /run under KUBE_OVN_OFFLOAD_SYSFS_ROOT, node tools on PATH.
 */
export interface Host {
  root: string;
  sysfs: Sysfs;
  run: RunTool;
  /** A path under the root: host.path('proc', 'sys', 'kernel', 'osrelease'). */
  path(...parts: string[]): string;
  stateDir: string;
}

export function hostFromEnv(env: NodeJS.ProcessEnv, toolTimeoutMs = 10_000): Host {
  const root = env.KUBE_OVN_OFFLOAD_SYSFS_ROOT || '/';
  return {
    root,
    sysfs: new Sysfs(root),
    run: toolRunner(toolTimeoutMs, env),
    path: (...parts) => join(root, ...parts),
    stateDir: env.KUBE_OVN_OFFLOAD_STATE_DIR || '/var/lib/cni/kube-ovn-offload',
  };
}

/** A usage error: printed with the command's help, exit status 2. */
export class UsageError extends Error {}

/** A command's flags, strictly: an unknown or malformed flag is a usage error (exit 2, with help). */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
