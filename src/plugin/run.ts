import { parseConfig, parseJson } from '../cni/config.js';
import { parseEnv } from '../cni/env.js';
import { asCniError, CniError, Code } from '../cni/errors.js';
import { forVersion } from '../cni/result.js';
import { requireSupported, stdinVersion, versionAtLeast, versionResult } from '../cni/version.js';
import { daemonClient } from '../kubeovn/client.js';
import { Sysfs } from '../node/sysfs.js';
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
  stdin: string;
  /** Exactly one JSON document, or nothing. */
  stdout: (text: string) => void;
}

/** One CNI invocation: returns the exit status; stdout gets the result or the error. */
export async function runPlugin(io: Io): Promise<number> {
  let cniVersion = stdinVersion(io.stdin);
  let log: Logger | undefined;
  // Ends every node tool still running once the answer is known (e.g. one hangs after another failed).
  const cancel = new AbortController();
  try {
    if (io.env.CNI_COMMAND === 'VERSION') {
      io.stdout(JSON.stringify(versionResult(cniVersion)) + '\n');
      return 0;
    }
    const env = parseEnv(io.env);
    const conf = parseConfig(parseJson(io.stdin), io.env);
    log = createLogger({ file: conf.logFile, level: conf.logLevel });
    // The same keys on every line, so one grep finds a pod's whole story.
    log.with({ cmd: env.command, containerID: env.containerId, ifname: env.ifname, deviceID: null, uplink: null, representor: null });
    for (const note of conf.notes) log.warn(note);
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
    switch (env.command) {
      case 'ADD':
        io.stdout(JSON.stringify(forVersion(await cmdAdd(ctx), cniVersion)) + '\n');
        return 0;
      case 'DEL':
        await cmdDel(ctx);
        return 0;
      case 'CHECK':
        await cmdCheck(ctx);
        return 0;
      case 'STATUS':
        await cmdStatus(ctx);
        return 0;
      case 'GC':
        await cmdGc(ctx);
        return 0;
      case 'VERSION':
        return 0; // answered above
    }
  } catch (err) {
    const e = asCniError(err);
    if (log) log.error(e.message, { code: e.code, details: e.details });
    else logEarly(io.env, e);
    io.stdout(JSON.stringify(e.toJSON(cniVersion)) + '\n');
    return 1;
  } finally {
    cancel.abort();
  }
}

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
