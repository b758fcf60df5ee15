/** Shared set-up for the integration suites: a simulated node and daemon, removed after each test. */
import { afterEach, beforeEach } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { SimNode, connectx5, type NodeSpec } from '../support/sim-node.js';
import { SimDaemon, type SimDaemonOptions } from '../support/sim-daemon.js';
import { invoke, type Invocation, type Outcome } from '../support/plugin.js';

export const VF0 = '0000:42:00.2';
export const PF = '0000:42:00.0';

export interface World {
  node: SimNode;
  daemon: SimDaemon;
  socket: string;
  logFile: string;
  conf(extra?: Record<string, unknown>): Record<string, unknown>;
  run(command: Invocation['command'], extra?: Record<string, unknown>, inv?: Partial<Invocation>): Promise<Outcome>;
  /** The plugin's log, one parsed JSON object per line. */
  log(): Array<Record<string, any>>;
  /** Requests the daemon received on a path. */
  received(path: '/api/v1/add' | '/api/v1/del'): Array<Record<string, unknown>>;
}

/** Registers before/after hooks and returns the current test's world. */
export function useWorld(opts: { spec?: () => NodeSpec; daemon?: Partial<SimDaemonOptions> } = {}): () => World {
  let world: World | undefined;
  beforeEach(async () => {
    const node = new SimNode(opts.spec?.() ?? { pfs: [connectx5()] });
    const socket = join(node.root, 'kube-ovn-daemon.sock');
    const logFile = join(node.root, 'plugin.log');
    const daemon = await new SimDaemon({ socketPath: socket, ...opts.daemon }).start();
    const conf = (extra: Record<string, unknown> = {}) => ({
      cniVersion: '1.1.0',
      name: 'kube-ovn',
      type: 'kube-ovn-offload',
      server_socket: socket,
      provider: 'default.default.ovn',
      deviceID: VF0,
      pciBusID: VF0,
      log_file: logFile,
      log_level: 'debug',
      ...extra,
    });
    world = {
      node,
      daemon,
      socket,
      logFile,
      conf,
      run: (command, extra, inv) => invoke({ command, conf: conf(extra), env: node.env(), ...inv }),
      log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>) : []),
      received: (path) => daemon.requests.filter((r) => r.path === path).map((r) => r.body),
    };
  });
  afterEach(async () => {
    await world?.daemon.stop();
    world?.node.remove();
    world = undefined;
  });
  return () => world!;
}

/** A CNI error printed by the plugin: one JSON document on stdout and exit status 1. */
export function cniError(out: Outcome): { code: number; msg: string; details?: string } {
  if (out.exitCode !== 1 || !out.json) throw new Error(`expected a CNI error, got exit ${out.exitCode}: ${out.stdout} ${out.stderr}`);
  if (out.stdout.trim().split('\n').length !== 1) throw new Error(`stdout has more than one line: ${out.stdout}`);
  return out.json as { code: number; msg: string; details?: string };
}
