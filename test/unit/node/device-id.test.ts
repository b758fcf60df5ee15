/** the deviceID sources (src/node/device-id.ts) on fake sysfs trees of real folders and symlinks (test/support/sim-node). */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CniError } from '../../../src/cni/errors.js';
import { findDeviceId, requireDeviceId } from '../../../src/node/device-id.js';
import { useSysfsTrees } from '../../support/sysfs-tree.js';

const trees = useSysfsTrees();

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
    const { node } = trees.tree();
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
