/**
 * The single executable (`npm run package`, built by the global setup as root) runs with no
 * Node.js on PATH and behaves as the bundle does. As on a host with thick Multus, devlink,
 * ethtool and nsenter are absent too: the plugin falls back to sysfs and says what it could
 * not verify.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connectx5 } from '../support/sim-node.js';
import { invoke, PLUGIN_BIN, SEA_BIN } from '../support/plugin.js';
import { useWorld, VF0 } from '../support/harness.js';

const built = existsSync(SEA_BIN);

describe.skipIf(!built)('the single executable', () => {
  const world = useWorld({ spec: () => ({ pfs: [{ ...connectx5(), compatFile: true }] }) });

  it('answers VERSION, --help and ADD/DEL with no node, devlink, ethtool or nsenter on PATH', async () => {
    const w = world();
    const empty = join(w.node.root, 'empty-bin');
    mkdirSync(empty);
    const env = { ...w.node.env(), PATH: empty, KUBE_OVN_OFFLOAD_STATE_DIR: w.stateDir };
    const version = await invoke({ command: 'VERSION', conf: '{"cniVersion":"1.0.0"}', env, bin: SEA_BIN });
    expect(version.json).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });

    // Guard (the default topology) needs no tool of its own to let a pod through.
    const guard = w.conf({ mode: 'guard' });
    const add = await invoke({ command: 'ADD', conf: guard, env, netns: w.liveNetns, bin: SEA_BIN });
    expect(add.stderr).toBe('');
    expect(add.exitCode).toBe(0);
    expect(add.json).toEqual({ cniVersion: '1.1.0', warnings: ['hw-tc-offload on enp66s0f0np0 is unverified: ethtool is not installed'] });
    const checks = w.log().find((l) => l.msg === 'offload checks')!;
    expect(checks.eswitch.source).toContain('compat/devlink/mode (devlink is not installed)');
    expect((await invoke({ command: 'DEL', conf: guard, env, netns: w.liveNetns, bin: SEA_BIN })).exitCode).toBe(0);
    expect(w.stateFiles()).toEqual([]);

    // The shim must turn IPv6 on in the pod netns as kube-ovn's binary does: without nsenter it cannot.
    const shim = await invoke({ command: 'ADD', conf: w.conf(), env, netns: w.liveNetns, bin: SEA_BIN });
    expect(shim.json).toMatchObject({ code: 5, msg: 'nsenter is not installed' });
    expect(w.daemon.requests).toEqual([]);
  });

  it('gives the same result as the bundle', async () => {
    const w = world();
    const env = { ...w.node.env(), KUBE_OVN_OFFLOAD_STATE_DIR: w.stateDir };
    const a = await invoke({ command: 'ADD', conf: w.conf(), env, netns: w.liveNetns, bin: SEA_BIN });
    await invoke({ command: 'DEL', conf: w.conf(), env, netns: w.liveNetns, bin: SEA_BIN });
    const b = await invoke({ command: 'ADD', conf: w.conf(), env, netns: w.liveNetns, bin: PLUGIN_BIN });
    // The simulated daemon hands each pod a new address and MAC; all else must be equal.
    const norm = (r: unknown) => JSON.parse(JSON.stringify(r).replace(/00:00:00:00:00:0\d/g, 'MAC').replace(/10\.16\.0\.\d+/g, 'IP'));
    expect(a.exitCode).toBe(0);
    expect(norm(a.json)).toEqual(norm(b.json));
  });
});
