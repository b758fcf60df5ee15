/** Shared set-up for the integration suites: a simulated node and daemon, removed after each test. */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOvsdb, type OvsdbServer } from '../support/ovsdb-server.js';
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
  /** A real ovsdb-server with br-int and other_config:hw-offload=true (shared by a file's tests). */
  ovs: OvsdbServer;
  /** State dir of this test (KUBE_OVN_OFFLOAD_STATE_DIR). */
  stateDir: string;
  /** A path that exists, standing for a live pod netns (the fake nsenter never enters it). */
  liveNetns: string;
  /** Files under the state dir: what the plugin keeps and leaves behind. */
  stateFiles(): string[];
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
  let ovs: OvsdbServer | undefined;
  let ovsDir = '';
  beforeAll(async () => {
    ovsDir = mkdtempSync(join(tmpdir(), 'kovo-ovsdb-'));
    ovs = await startOvsdb(ovsDir);
  });
  afterAll(async () => {
    await ovs?.stop();
    rmSync(ovsDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    // Each test starts from an empty br-int and hw-offload=true, whatever the last one left.
    await ovs!.vsctl('--', '--if-exists', 'del-br', 'br-int', '--', 'add-br', 'br-int', '--', 'set', 'Open_vSwitch', '.', 'other_config:hw-offload=true');
    const node = new SimNode(opts.spec?.() ?? { pfs: [connectx5()] });
    const socket = join(node.root, 'kube-ovn-daemon.sock');
    const logFile = join(node.root, 'plugin.log');
    const stateDir = join(node.root, 'state');
    const liveNetns = join(node.root, 'netns', 'pod');
    mkdirSync(join(node.root, 'netns'));
    writeFileSync(liveNetns, '');
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
      ovsdb_socket: ovs!.socket,
      ...extra,
    });
    const env = { ...node.env(), KUBE_OVN_OFFLOAD_STATE_DIR: stateDir };
    world = {
      node,
      daemon,
      socket,
      logFile,
      ovs: ovs!,
      stateDir,
      liveNetns,
      stateFiles: () => listFiles(stateDir),
      conf,
      run: (command, extra, inv) => invoke({ command, conf: conf(extra), env, ...inv }),
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

function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? listFiles(join(dir, n), `${prefix}${n}/`) : [`${prefix}${n}`]));
}
