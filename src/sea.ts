// The single executable's entry point (scripts/package.sh). Node 20 builds it into a V8
// start-up snapshot: the CNI plugin's modules below are loaded and evaluated (their schemas
// built) when the executable is packaged, not when a pod starts, and warmUp() runs ADD's pure
// steps once so that their code is compiled there too; each run begins at start(). Nothing
// here may read the process's state (env, argv, time, pid) while it loads: that would be the
// packager's, frozen into the snapshot.
//
// The operator CLI is not in the snapshot, which every pod would pay to load (~1 ms): it is
// the executable's asset cli.cjs (src/cli/main.ts bundled alone), compiled when it runs.
import { startupSnapshot } from 'node:v8';
import { runInThisContext } from 'node:vm';
import * as version from './cni/version.js';
import * as plugin from './plugin/run.js';
import { warmUp } from './plugin/warm-up.js';
import { start, type Paths } from './start.js';

type Cli = typeof import('./cli/main.js');

function loadCli(): Cli {
  const { getAsset } = require('node:sea') as typeof import('node:sea');
  const module = { exports: {} as Cli };
  const run = runInThisContext(`(function (exports, require, module) {${getAsset('cli.cjs', 'utf8')}\n})`, { filename: 'cli.cjs' }) as (e: Cli, r: NodeJS.Require, m: { exports: Cli }) => void;
  run(module.exports, require, module);
  return module.exports;
}

const paths: Paths = { cli: async () => loadCli(), version: async () => version, plugin: async () => plugin };

if (startupSnapshot.isBuildingSnapshot()) {
  startupSnapshot.setDeserializeMainFunction(() => start(paths));
  void warmUp();
} else {
  start(paths);
}
