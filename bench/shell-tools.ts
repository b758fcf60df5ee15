/**
 * Stand-ins for devlink, ethtool (and, for the plugin alone, nsenter) that cost what a C tool
 * costs: shell scripts printing what the test fakes print for this node, captured once. The
 * tests' Node fakes would cost a Node start-up each and drown what a benchmark measures.
 */
import { execa } from 'execa';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimNode } from '../test/support/sim-node.js';

/**
 * The environment with the stand-ins first on PATH; with `nsenter`, a stand-in for it too.
 * `path: 'system'` puts the system's tools after them (the plugin alone: `ip` is the real one);
 * `'node'` the simulated node's (fake `ip` and `nsenter` that keep its sysfs in step with the
 * kernel, which a DEL that brings a VF back from a pod needs).
 */
export async function shellTools(node: SimNode, work: string, opts: { nsenter: boolean; path: 'system' | 'node' }): Promise<Record<string, string>> {
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  const capture = async (tool: string, args: string[]) => String((await execa(join(node.root, 'bin', tool), args, { env: node.env(), timeout: 30_000 })).stdout);
  const pf = node.pf();
  writeFileSync(join(bin, 'eswitch.json'), (await capture('devlink', ['-j', 'dev', 'eswitch', 'show', `pci/${pf.pci}`])) + '\n');
  writeFileSync(join(bin, 'ports.json'), (await capture('devlink', ['-j', 'port', 'show'])) + '\n');
  writeFileSync(join(bin, 'features.json'), (await capture('ethtool', ['--json', '-k', pf.uplink])) + '\n');
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  script('devlink', `case "$2" in dev) exec cat ${bin}/eswitch.json;; *) exec cat ${bin}/ports.json;; esac`);
  script('ethtool', `exec cat ${bin}/features.json`);
  // DEL looks for the VF in the pod netns (`nsenter --net=… ip -j link show`): none there.
  if (opts.nsenter) script('nsenter', 'case "$2" in ip) echo "[]";; esac; exit 0');
  return { PATH: `${bin}:${opts.path === 'node' ? node.env().PATH : '/usr/bin:/bin'}`, KUBE_OVN_OFFLOAD_SYSFS_ROOT: node.root };
}
