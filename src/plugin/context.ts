import type { Config } from '../cni/config.js';
import type { CniEnv } from '../cni/env.js';
import type { DaemonClient } from '../kubeovn/client.js';
import type { Logger } from './log.js';
import type { NodeDeps } from './preflight.js';
import type { StateStore } from './state.js';

/** Everything one CNI invocation works with, passed in (no module-level state). */
export interface Context {
  env: CniEnv;
  conf: Config;
  log: Logger;
  node: NodeDeps;
  daemon: DaemonClient;
  state: StateStore;
}
