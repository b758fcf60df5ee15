// The single executable's entry point (scripts/package.sh). Node 20 builds it into a V8
// start-up snapshot: every module below is loaded and evaluated (its schemas built) when the
// executable is packaged, not when a pod starts, and warmUp() runs ADD's pure steps once so
// that their code is compiled there too; each run begins at start(). Nothing here may read
// the process's state (env, argv, time, pid) while it loads: that would be the packager's,
// frozen into the snapshot.
import { startupSnapshot } from 'node:v8';
import * as cli from './cli/main.js';
import * as version from './cni/version.js';
import * as plugin from './plugin/run.js';
import { warmUp } from './plugin/warm-up.js';
import { start, type Paths } from './start.js';

const paths: Paths = { cli: async () => cli, version: async () => version, plugin: async () => plugin };

if (startupSnapshot.isBuildingSnapshot()) {
  startupSnapshot.setDeserializeMainFunction(() => start(paths));
  void warmUp();
}
else start(paths);
