/** representorFromSysfs (src/node/representor.ts) on fake sysfs trees of real folders and symlinks (test/support/sim-node). */
import { describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { representorFromSysfs } from '../../../src/node/representor.js';
import { useSysfsTrees } from '../../support/sysfs-tree.js';

const trees = useSysfsTrees();

describe('representorFromSysfs', () => {
  it.each([[0, 'enp66s0f0r0'], [3, 'enp66s0f0r3'], [7, undefined]])('VF %i → %s', async (index, rep) => {
    const { sysfs } = trees.tree();
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', index)).toBe(rep);
  });

  it('never takes a DPU host representor c1pf0vfN for the local VF', async () => {
    const { node, sysfs } = trees.tree((pf) => (pf.hostReps = [{ name: 'aa_host0', vf: 0 }]));
    rmSync(join(node.root, 'sys/class/net/enp66s0f0r0'));
    rmSync(join(node.root, 'sys/devices/pci0000:40/0000:40:02.0/0000:42:00.0/net/enp66s0f0r0'), { recursive: true });
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 0)).toBeUndefined();
  });

  it('asks a likely name first, and looks through the PF when it is wrong, another VF\'s or absent', async () => {
    const { sysfs } = trees.tree();
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 3, 'enp66s0f0r3')).toBe('enp66s0f0r3');
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 3, 'enp66s0f0r1')).toBe('enp66s0f0r3');
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 3, '5b45c61b307e_h')).toBe('enp66s0f0r3');
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 3, 'enp66s0f0np0')).toBe('enp66s0f0r3');
  });

  it('needs the PF number to match: pf1vf0 is not VF 0 of PF 0', async () => {
    const { node, sysfs } = trees.tree();
    writeFileSync(join(node.root, 'sys/class/net/enp66s0f0r0/phys_port_name'), 'pf1vf0\n');
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 0)).toBeUndefined();
  });
});
