/** findUplink (src/node/uplink.ts) on fake sysfs trees of real folders and symlinks (test/support/sim-node). */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findUplink } from '../../../src/node/uplink.js';
import { useSysfsTrees } from '../../support/sysfs-tree.js';

const trees = useSysfsTrees();

describe('findUplink', () => {
  it('skips representors that sort before the uplink', async () => {
    const { sysfs } = trees.tree((pf) => pf.vfs.forEach((vf, i) => (vf.rep = `aaa${i}`)));
    expect(await findUplink(sysfs, '0000:42:00.0')).toEqual({ uplink: 'enp66s0f0np0', all: ['aaa0', 'aaa1', 'aaa2', 'aaa3', 'enp66s0f0np0'] });
  });

  it('finds none in legacy mode (no phys_switch_id)', async () => {
    const { sysfs } = trees.tree((pf) => (pf.mode = 'legacy'));
    expect(await findUplink(sysfs, '0000:42:00.0')).toEqual({ all: ['enp66s0f0np0'] });
  });

  it('needs phys_port_name p<N>, not only a phys_switch_id', async () => {
    const { node, sysfs } = trees.tree();
    writeFileSync(join(node.root, 'sys/class/net/enp66s0f0np0/phys_port_name'), 'p0s1\n');
    expect((await findUplink(sysfs, '0000:42:00.0')).uplink).toBeUndefined();
  });
});
