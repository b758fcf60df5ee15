// The fake tools' way to the simulated node's "kernel" (test/support/sim-kernel.ts): it makes
// the change in SimNode, the one model of the node. The bundle the test set-up builds starts
// fastest (sim-kernel-bundle.ts); without it, tsx's loader in this Node (not tsx's CLI, which
// writes an IPC pipe under /tmp that the strace checks would rightly call a stray write).
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const BUNDLE = join(__dirname, '../../../.cache/sim-kernel.mjs');
const LOADER = pathToFileURL(join(__dirname, '../../../node_modules/tsx/dist/loader.mjs')).href;
const SIM_KERNEL = join(__dirname, '../sim-kernel.ts');
const command = existsSync(BUNDLE) ? [BUNDLE] : ['--import', LOADER, SIM_KERNEL];

/** Asks the simulated kernel to make a change; true when it did. */
module.exports = function kernel(...args) {
  const root = process.env.KUBE_OVN_OFFLOAD_SYSFS_ROOT || '';
  const r = spawnSync(process.execPath, [...command, root, ...args], { stdio: 'inherit', timeout: 30000 });
  return r.status === 0;
};
