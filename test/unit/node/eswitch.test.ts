/** eswitchModeOf (src/node/eswitch.ts) on fake sysfs trees of real folders and symlinks (test/support/sim-node). */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { eswitchModeOf } from '../../../src/node/eswitch.js';
import { useSysfsTrees } from '../../support/sysfs-tree.js';

const trees = useSysfsTrees();

describe('eswitchModeOf', () => {
  const noDevlink = { source: 'none', why: 'devlink is not installed' } as const;

  it('devlink decides when it answers', async () => {
    const { sysfs } = trees.tree((pf) => (pf.compatFile = true));
    expect(await eswitchModeOf(sysfs, { value: 'legacy', source: 'devlink' }, { uplink: 'enp66s0f0np0', all: [] })).toEqual({ mode: 'legacy', source: 'devlink' });
  });

  it('then compat/devlink/mode', async () => {
    const { node, sysfs } = trees.tree((pf) => (pf.compatFile = true));
    const mode = await eswitchModeOf(sysfs, noDevlink, { uplink: 'enp66s0f0np0', all: ['enp66s0f0np0'] });
    expect(mode).toEqual({ mode: 'switchdev', source: `${join(node.root, 'sys/class/net/enp66s0f0np0/compat/devlink/mode')} (devlink is not installed)` });
  });

  it('then the uplink\'s phys_switch_id', async () => {
    const { sysfs } = trees.tree();
    expect((await eswitchModeOf(sysfs, noDevlink, { uplink: 'enp66s0f0np0', all: [] })).mode).toBe('switchdev');
    expect((await eswitchModeOf(sysfs, noDevlink, { all: ['enp66s0f0np0'] })).mode).toBe('legacy');
  });
});
