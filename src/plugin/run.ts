import { parseConfig, parseJson } from '../cni/config.js';
import { parseEnv } from '../cni/env.js';
import { asCniError, CniError, Code } from '../cni/errors.js';
import { forVersion } from '../cni/result.js';
import type { Stdin } from '../cni/stdin.js';
import { requireSupported, stdinVersion, versionAtLeast, versionResult } from '../cni/version.js';
import { daemonClient } from '../kubeovn/client.js';
import { Sysfs } from '../node/sysfs.js';
import { isOwnNetns } from '../node/netns.js';
import { toolRunner } from '../node/tools.js';
import { cmdAdd } from './add.js';
import { cmdCheck } from './check.js';
import type { Context } from './context.js';
import { cmdDel } from './del.js';
import { createLogger, type Logger } from './log.js';
import { cmdStatus } from './status.js';
import { cmdGc } from './gc.js';
import { StateStore } from './state.js';
import { ovsdbClient } from '../node/ovsdb.js';

export interface Io {
  env: NodeJS.ProcessEnv;
  stdin: Stdin;
  /** Exactly one JSON document, or nothing. */
  stdout: (text: string) => void;
}

/** One CNI invocation: returns the exit status; stdout gets the result or the error. */
export async function runPlugin(io: Io): Promise<number> {
  let cniVersion = stdinVersion(io.stdin.text);
  let log: Logger | undefined;
  // Ends every node tool still running once the answer is known (e.g. one hangs after another failed).
  const cancel = new AbortController();
  let deadline: NodeJS.Timeout | undefined;
  try {
    if (io.env.CNI_COMMAND === 'VERSION') {
      io.stdout(JSON.stringify(versionResult(cniVersion)) + '\n');
      return 0;
    }
    const env = parseEnv(io.env);
    if (io.stdin.problem) throw io.stdin.problem;
    const conf = parseConfig(parseJson(io.stdin.text), io.env);
    log = createLogger({ file: conf.logFile, level: conf.logLevel });
    // The same keys on every line, so one grep finds a pod's whole story.
    log.with({ cmd: env.command, containerID: env.containerId, ifname: env.ifname, deviceID: null, uplink: null, representor: null });
    for (const note of conf.notes) log.warn(note);
    if (NETNS_COMMANDS.has(env.command) && (await isOwnNetns(env.netns))) {
      throw new CniError(Code.InvalidEnvironment, `CNI_NETNS ${env.netns} is the plugin's own network namespace, not a pod's`, 'the runtime must pass the pod sandbox\'s netns; the plugin never configures the namespace it runs in (the host\'s)');
    }
    cniVersion = requireSupported(conf.cniVersion);
    gateOnVersion(env.command, cniVersion);
    const ctx: Context = {
      env,
      conf,
      log,
      node: {
        sysfs: new Sysfs(io.env.KUBE_OVN_OFFLOAD_SYSFS_ROOT || '/'),
        run: toolRunner(conf.toolTimeoutMs, io.env, cancel.signal),
        ovsdb: ovsdbClient(conf.ovsdbSocket, Math.min(conf.toolTimeoutMs, 5_000)),
      },
      daemon: daemonClient(conf.serverSocket, conf.daemonTimeoutMs),
      state: new StateStore(conf.stateDir),
    };
    const work = dispatch(ctx, cniVersion);
    // One deadline for the whole invocation, from the process's start: whatever hangs (a lock
    // holder, the daemon, a tool, the disk), the runtime gets a coded answer first.
    const left = performance.timeOrigin + conf.invocationTimeoutMs - Date.now();
    const late = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(overDeadline(env.command, conf.invocationTimeoutMs)), Math.max(0, left));
    });
    work.catch(() => undefined); // a failure after the deadline has nobody to tell
    const text = await Promise.race([work, late]);
    if (text) io.stdout(text);
    return 0;
  } catch (err) {
    const e = asCniError(err);
    if (log) log.error(e.message, { code: e.code, details: e.details });
    else logEarly(io.env, e);
    io.stdout(JSON.stringify(e.toJSON(cniVersion)) + '\n');
    return 1;
  } finally {
    clearTimeout(deadline);
    cancel.abort();
  }
}

/** The command's answer for stdout: ADD's result, nothing for the others. */
async function dispatch(ctx: Context, cniVersion: string): Promise<string> {
  switch (ctx.env.command) {
    case 'ADD':
      return JSON.stringify(forVersion(await cmdAdd(ctx), cniVersion)) + '\n';
    case 'DEL':
      await cmdDel(ctx);
      return '';
    case 'CHECK':
      await cmdCheck(ctx);
      return '';
    case 'STATUS':
      await cmdStatus(ctx);
      return '';
    case 'GC':
      await cmdGc(ctx);
      return '';
    case 'VERSION':
      return ''; // answered before the config is read
  }
}

function overDeadline(command: string, ms: number): CniError {
  return new CniError(
    Code.TryAgainLater,
    `${command} did not finish within ${ms / 1000}s (invocation_timeout_s)`,
    'something the plugin waited on did not answer: the VF\'s lock, the kube-ovn daemon, a node tool or the disk; the log\'s last lines for this containerID say which',
  );
}

const NETNS_COMMANDS = new Set(['ADD', 'CHECK', 'DEL']);

// libcni and skel refuse CHECK before 0.4.0 and STATUS/GC before 1.1.0; so do we.
function gateOnVersion(command: string, v: string): void {
  const min = command === 'CHECK' ? '0.4.0' : command === 'STATUS' || command === 'GC' ? '1.1.0' : '';
  if (min && !versionAtLeast(v, min)) {
    throw new CniError(Code.IncompatibleVersion, `config version ${v} does not allow ${command}`, `${command} needs cniVersion ${min} or later`);
  }
}

// Before the config is read there is no log_file; stderr is the only place left.
function logEarly(env: NodeJS.ProcessEnv, e: CniError): void {
  process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), level: 'error', msg: e.message, code: e.code, cmd: env.CNI_COMMAND }) + '\n');
}
