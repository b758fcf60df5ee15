/** The sysfs readers on fake trees of real folders and symlinks (test/support/sim-node). */
import { afterEach, describe, expect, it } from 'vitest';
import type { CniError } from '../../src/cni/errors.js';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimNode, connectx5, type PfSpec } from '../support/sim-node.js';
import { Sysfs } from '../../src/node/sysfs.js';
import { resolveVf } from '../../src/node/vf.js';
import { findUplink } from '../../src/node/uplink.js';
import { representorFromSysfs } from '../../src/node/representor.js';
import { eswitchModeOf } from '../../src/node/eswitch.js';
import { findDeviceId, requireDeviceId } from '../../src/node/device-id.js';

const nodes: SimNode[] = [];
function tree(edit?: (pf: PfSpec) => void): { node: SimNode; sysfs: Sysfs } {
  const pf = connectx5();
  edit?.(pf);
  const node = new SimNode({ pfs: [pf] });
  nodes.push(node);
  return { node, sysfs: new Sysfs(node.root) };
}
afterEach(() => {
  for (const n of nodes.splice(0)) n.remove();
});

describe('resolveVf', () => {
  it.each([
    ['0000:42:00.2', 0],
    ['0000:42:00.5', 3],
  ])('%s is VF %i of PF 0000:42:00.0, with its netdev and driver', async (pci, index) => {
    const { sysfs } = tree();
    expect(await resolveVf(sysfs, pci)).toEqual({ pci, pf: '0000:42:00.0', index, netdevs: [`enp66s0f0v${index}`], driver: 'mlx5_core' });
  });

  describe('the index, from sriov_offset and sriov_stride', () => {
    const PF_DIR = 'sys/devices/pci0000:40/0000:40:02.0/0000:42:00.0';
    const big = () => {
      const pf = { ...connectx5({ vfs: 130 }), totalVfs: 130 };
      const node = new SimNode({ pfs: [pf] });
      nodes.push(node);
      return { node, sysfs: new Sysfs(node.root), pf };
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
    const { sysfs } = tree((pf) => (pf.vfs[0]!.driver = 'vfio-pci'));
    expect(await resolveVf(sysfs, '0000:42:00.2')).toMatchObject({ netdevs: [], driver: 'vfio-pci' });
  });

  it('102 for a physfn link whose target is not a PCI address', async () => {
    const { node, sysfs } = tree();
    const physfn = join(node.root, 'sys/devices/pci0000:40/0000:40:02.0/0000:42:00.2/physfn');
    rmSync(physfn);
    symlinkSync('../../../../etc', physfn);
    await expect(resolveVf(sysfs, '0000:42:00.2')).rejects.toMatchObject({ code: 102 });
  });
});

describe('findUplink', () => {
  it('skips representors that sort before the uplink', async () => {
    const { sysfs } = tree((pf) => pf.vfs.forEach((vf, i) => (vf.rep = `aaa${i}`)));
    expect(await findUplink(sysfs, '0000:42:00.0')).toEqual({ uplink: 'enp66s0f0np0', all: ['aaa0', 'aaa1', 'aaa2', 'aaa3', 'enp66s0f0np0'] });
  });

  it('finds none in legacy mode (no phys_switch_id)', async () => {
    const { sysfs } = tree((pf) => (pf.mode = 'legacy'));
    expect(await findUplink(sysfs, '0000:42:00.0')).toEqual({ all: ['enp66s0f0np0'] });
  });

  it('needs phys_port_name p<N>, not only a phys_switch_id', async () => {
    const { node, sysfs } = tree();
    writeFileSync(join(node.root, 'sys/class/net/enp66s0f0np0/phys_port_name'), 'p0s1\n');
    expect((await findUplink(sysfs, '0000:42:00.0')).uplink).toBeUndefined();
  });
});

describe('representorFromSysfs', () => {
  it.each([[0, 'enp66s0f0r0'], [3, 'enp66s0f0r3'], [7, undefined]])('VF %i → %s', async (index, rep) => {
    const { sysfs } = tree();
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', index)).toBe(rep);
  });

  it('never takes a DPU host representor c1pf0vfN for the local VF', async () => {
    const { node, sysfs } = tree((pf) => (pf.hostReps = [{ name: 'aa_host0', vf: 0 }]));
    rmSync(join(node.root, 'sys/class/net/enp66s0f0r0'));
    rmSync(join(node.root, 'sys/devices/pci0000:40/0000:40:02.0/0000:42:00.0/net/enp66s0f0r0'), { recursive: true });
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 0)).toBeUndefined();
  });

  it('asks a likely name first, and looks through the PF when it is wrong, another VF\'s or absent', async () => {
    const { sysfs } = tree();
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 3, 'enp66s0f0r3')).toBe('enp66s0f0r3');
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 3, 'enp66s0f0r1')).toBe('enp66s0f0r3');
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 3, '5b45c61b307e_h')).toBe('enp66s0f0r3');
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 3, 'enp66s0f0np0')).toBe('enp66s0f0r3');
  });

  it('needs the PF number to match: pf1vf0 is not VF 0 of PF 0', async () => {
    const { node, sysfs } = tree();
    writeFileSync(join(node.root, 'sys/class/net/enp66s0f0r0/phys_port_name'), 'pf1vf0\n');
    expect(await representorFromSysfs(sysfs, '0000:42:00.0', 0)).toBeUndefined();
  });
});

describe('eswitchModeOf', () => {
  const noDevlink = { source: 'none', why: 'devlink is not installed' } as const;

  it('devlink decides when it answers', async () => {
    const { sysfs } = tree((pf) => (pf.compatFile = true));
    expect(await eswitchModeOf(sysfs, { value: 'legacy', source: 'devlink' }, { uplink: 'enp66s0f0np0', all: [] })).toEqual({ mode: 'legacy', source: 'devlink' });
  });

  it('then compat/devlink/mode', async () => {
    const { node, sysfs } = tree((pf) => (pf.compatFile = true));
    const mode = await eswitchModeOf(sysfs, noDevlink, { uplink: 'enp66s0f0np0', all: ['enp66s0f0np0'] });
    expect(mode).toEqual({ mode: 'switchdev', source: `${join(node.root, 'sys/class/net/enp66s0f0np0/compat/devlink/mode')} (devlink is not installed)` });
  });

  it('then the uplink\'s phys_switch_id', async () => {
    const { sysfs } = tree();
    expect((await eswitchModeOf(sysfs, noDevlink, { uplink: 'enp66s0f0np0', all: [] })).mode).toBe('switchdev');
    expect((await eswitchModeOf(sysfs, noDevlink, { all: ['enp66s0f0np0'] })).mode).toBe('legacy');
  });
});

describe('deviceID sources', () => {
  it.each([
    [{ runtimeConfig: '0000:42:00.3', deviceID: '0000:42:00.4', pciBusID: '0000:42:00.5' }, { pci: '0000:42:00.3', source: 'runtimeConfig.deviceID' }],
    [{ deviceID: '0000:42:00.4', pciBusID: '0000:42:00.5' }, { pci: '0000:42:00.4', source: 'deviceID' }],
    [{ pciBusID: '0000:42:00.5' }, { pci: '0000:42:00.5', source: 'pciBusID' }],
    [{}, undefined],
  ])('%j → %j', async (sources, want) => {
    expect(await findDeviceId(sources)).toEqual(want);
  });

  it('101 when none has one', async () => {
    await expect(requireDeviceId({})).rejects.toMatchObject({ code: 101 });
  });

  it('reads pci.pci-address from a device-info file; 5 when the file is not JSON', async () => {
    const { node } = tree();
    const file = join(node.root, 'devinfo.json');
    writeFileSync(file, '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:42:00.2"}}');
    expect(await findDeviceId({ deviceInfoFile: file })).toEqual({ pci: '0000:42:00.2', source: 'CNIDeviceInfoFile' });
    writeFileSync(file, '{oops');
    await expect(findDeviceId({ deviceInfoFile: file })).rejects.toMatchObject({ code: 5 });
    // Whatever the file holds, the error names the path and the parser's complaint, not the bytes.
    for (const secret of ['root:$6$S3CRET:1::', "'S3CRET'", '{"a": S3CRET}', '\u00e9S3CRET']) {
      writeFileSync(file, secret);
      const err = await findDeviceId({ deviceInfoFile: file }).catch((e: CniError) => e);
      expect(JSON.stringify(err)).not.toContain('S3CRET');
      expect(`${(err as CniError).message} ${(err as CniError).details}`).not.toMatch(/S3CRET|root|\u00e9/);
    }
    expect(await findDeviceId({ deviceInfoFile: join(node.root, 'missing.json') })).toBeUndefined();
  });
});
