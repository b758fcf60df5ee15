/** resolveVf (src/node/vf.ts) on fake sysfs trees of real folders and symlinks (test/support/sim-node). */
import { describe, expect, it } from 'vitest';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveVf } from '../../../src/node/vf.js';
import { connectx5 } from '../../support/sim-node.js';
import { useSysfsTrees } from '../../support/sysfs-tree.js';

const trees = useSysfsTrees();

describe('resolveVf', () => {
  it.each([
    ['0000:42:00.2', 0],
    ['0000:42:00.5', 3],
  ])('%s is VF %i of PF 0000:42:00.0, with its netdev and driver', async (pci, index) => {
    const { sysfs } = trees.tree();
    expect(await resolveVf(sysfs, pci)).toEqual({ pci, pf: '0000:42:00.0', index, netdevs: [`enp66s0f0v${index}`], driver: 'mlx5_core' });
  });

  describe('the index, from sriov_offset and sriov_stride', () => {
    const PF_DIR = 'sys/devices/pci0000:40/0000:40:02.0/0000:42:00.0';
    const big = () => {
      const pf = { ...connectx5({ vfs: 130 }), totalVfs: 130 };
      return { ...trees.node({ pfs: [pf] }), pf };
    };

    it('VF 127 and VF 129 (on device 0x10) read their own virtfn link only', async () => {
      const { node, sysfs } = big();
      // With every other virtfn link gone, only the computed one can answer.
      for (let i = 0; i < 130; i++) if (i !== 127 && i !== 129) rmSync(join(node.root, PF_DIR, `virtfn${i}`));
      expect(await resolveVf(sysfs, '0000:42:10.1')).toMatchObject({ index: 127 });
      expect(await resolveVf(sysfs, '0000:42:10.3')).toMatchObject({ index: 129 });
    });

    it.each([
      ['absent (an old kernel)', undefined],
      ['pointing at another VF (the link disagrees)', '3'],
      ['not a number', 'garbage'],
    ])('falls back to reading every virtfn link when they are %s', async (_, offset) => {
      const { node, sysfs } = big();
      if (offset === undefined) rmSync(join(node.root, PF_DIR, 'sriov_offset'));
      else writeFileSync(join(node.root, PF_DIR, 'sriov_offset'), `${offset}\n`);
      expect(await resolveVf(sysfs, '0000:42:10.1')).toMatchObject({ index: 127 });
    });

    it('a VF whose PF does not list it is still 102, computed or not', async () => {
      const { node, sysfs } = big();
      rmSync(join(node.root, PF_DIR, 'virtfn127'));
      await expect(resolveVf(sysfs, '0000:42:10.1')).rejects.toMatchObject({ code: 102, message: 'VF 0000:42:10.1 is not listed by its PF 0000:42:00.0' });
    });
  });

  it('a VF on vfio-pci has no netdev', async () => {
    const { sysfs } = trees.tree((pf) => (pf.vfs[0]!.driver = 'vfio-pci'));
    expect(await resolveVf(sysfs, '0000:42:00.2')).toMatchObject({ netdevs: [], driver: 'vfio-pci' });
  });

  it('102 for a physfn link whose target is not a PCI address', async () => {
    const { node, sysfs } = trees.tree();
    const physfn = join(node.root, 'sys/devices/pci0000:40/0000:40:02.0/0000:42:00.2/physfn');
    rmSync(physfn);
    symlinkSync('../../../../etc', physfn);
    await expect(resolveVf(sysfs, '0000:42:00.2')).rejects.toMatchObject({ code: 102 });
  });
});
