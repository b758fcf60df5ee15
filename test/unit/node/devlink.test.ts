/** devlink's port list (src/node/devlink.ts), as the tool prints it. */
import { describe, expect, it } from 'vitest';
import { devlinkPorts, vfPortNetdev, type DevlinkPort } from '../../../src/node/devlink.js';
import { CniError } from '../../../src/cni/errors.js';
import { fakeRun, ok } from '../../support/fake-run.js';

const PORT_SHOW = JSON.stringify({
  port: {
    'pci/0000:42:00.0/65535': { type: 'eth', netdev: 'p0', flavour: 'physical', port: 0, splittable: false },
    'pci/0000:42:00.0/1': { type: 'eth', netdev: 'pf0vf0', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 0, external: false, splittable: false, function: { hw_addr: '00:00:00:00:00:00' } },
    'pci/0000:42:00.0/2': { type: 'eth', netdev: 'pf0vf1', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 1, external: false, splittable: false },
    'pci/0000:42:00.0/3': { type: 'eth', netdev: 'c1pf0vf2', flavour: 'pcivf', controller: 1, pfnum: 0, vfnum: 2, external: true, splittable: false },
    'pci/0000:42:00.0/5': { type: 'eth', netdev: 'c1pf0vf3', flavour: 'pcivf', controller: 1, pfnum: 0, vfnum: 3, external: true, splittable: false },
    'pci/0000:42:00.0/4': { type: 'eth', netdev: 'pf0vf3', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 3, external: false, splittable: false },
    'pci/0000:42:00.0/32768': { type: 'eth', netdev: 'pf0sf1', flavour: 'pcisf', controller: 0, pfnum: 0, sfnum: 1, splittable: false },
    'pci/0000:42:00.0/6': { type: 'eth', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 5, external: false, splittable: false },
    'pci/0000:42:00.1/131071': { type: 'eth', netdev: 'p1', flavour: 'physical', port: 1, splittable: false },
    'pci/0000:42:00.1/65538': { type: 'eth', netdev: 'pf1vf1', flavour: 'pcivf', controller: 0, pfnum: 1, vfnum: 1, external: false, splittable: false },
    'pci/0000:42:00.1/65541': { type: 'eth', netdev: 'pf1vf4', flavour: 'pcivf', controller: 0, pfnum: 1, vfnum: 4, external: false, splittable: false },
  },
});

async function ports(): Promise<DevlinkPort[]> {
  const answer = await devlinkPorts(fakeRun({ 'devlink -j port show': ok(`${PORT_SHOW}\n`) }));
  if (!answer.value) throw new Error(`devlink gave no ports: ${answer.source}`);
  return answer.value;
}

describe('devlinkPorts', () => {
  it('lists every port with its handle, from the compact JSON devlink prints', async () => {
    const list = await ports();
    expect(list).toHaveLength(11);
    expect(list[1]).toMatchObject({ handle: 'pci/0000:42:00.0/1', netdev: 'pf0vf0', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 0 });
  });

  it('without devlink the answer says so', async () => {
    expect(await devlinkPorts(fakeRun({}))).toEqual({ source: 'none', why: 'devlink is not installed' });
  });

  it('a kernel without devlink is no answer, not an error', async () => {
    const run = fakeRun({ 'devlink -j port show': { exitCode: 1, stdout: '', stderr: 'Failed to connect to devlink Netlink\n' } });
    expect(await devlinkPorts(run)).toEqual({ source: 'none', why: 'devlink: Failed to connect to devlink Netlink' });
  });

  it('garbage from devlink is an I/O failure (code 5)', async () => {
    const run = fakeRun({ 'devlink -j port show': ok('pci/0000:42:00.0/1: type eth netdev pf0vf0\n') });
    await expect(devlinkPorts(run)).rejects.toMatchObject({ code: 5, message: 'devlink printed output that is not JSON' });
  });

  it.each([
    ['no port key', '{"ports":{}}'],
    ['port as a list', '{"port":[]}'],
    ['a port that is not an object', '{"port":{"pci/0000:42:00.0/1":"pf0vf0"}}'],
    ['a vfnum that is a string', '{"port":{"pci/0000:42:00.0/1":{"netdev":"pf0vf0","flavour":"pcivf","controller":0,"vfnum":"0"}}}'],
    ['a netdev that is a number', '{"port":{"pci/0000:42:00.0/1":{"netdev":7}}}'],
  ])('JSON of another shape is garbage (5): %s', async (_, json) => {
    await expect(devlinkPorts(fakeRun({ 'devlink -j port show': ok(json) }))).rejects.toMatchObject({ code: 5, message: 'devlink printed JSON of an unknown shape' });
  });

  it('JSON nested 5000 deep is garbage (5) with a bounded message, before anything recurses into it', async () => {
    const deep = '{"port":{"pci/0000:42:00.0/1":{"x":' + '['.repeat(5000) + ']'.repeat(5000) + '}}}';
    const err = await devlinkPorts(fakeRun({ 'devlink -j port show': ok(deep) })).catch((e: CniError) => e);
    expect(err).toMatchObject({ code: 5, message: 'devlink printed JSON nested deeper than 64 levels' });
    expect((err as CniError).details.length).toBeLessThan(300);
  });
});

describe('vfPortNetdev', () => {
  it.each([
    ['0000:42:00.0', 0, 'pf0vf0', 'VF 0 of PF 0'],
    ['0000:42:00.0', 1, 'pf0vf1', 'VF 1 on handle pci/0000:42:00.0/2'],
    ['0000:42:00.0', 3, 'pf0vf3', "the local VF 3, not the DPU host's c1pf0vf3 listed before it"],
    ['0000:42:00.1', 1, 'pf1vf1', "VF 1 of the second PF, not the first PF's"],
    ['0000:42:00.1', 4, 'pf1vf4', 'VF 4 of the second PF'],
  ])('PF %s VF %i → %s (%s)', async (pf, vf, want) => {
    expect(vfPortNetdev(await ports(), pf, vf)).toBe(want);
  });

  it.each([
    ['0000:42:00.0', 2, 'only a controller 1 port (a BlueField host side) has VF 2'],
    ['0000:42:00.0', 4, "VF 4 exists only on the other PF's instance"],
    ['0000:42:00.1', 0, "VF 0 exists only on the other PF's instance"],
    ['0000:42:00.0', 5, 'the port has no netdev'],
    ['0000:42:00.0', 1000, 'no such VF'],
    ['0000:43:00.0', 0, 'no such PF'],
  ])('PF %s VF %i → none (%s)', async (pf, vf) => {
    expect(vfPortNetdev(await ports(), pf, vf)).toBeUndefined();
  });

  it('an SF port with the same number is not a VF port', () => {
    const sf: DevlinkPort[] = [{ handle: 'pci/0000:42:00.0/32768', netdev: 'pf0sf1', flavour: 'pcisf', controller: 0, pfnum: 0 }];
    expect(vfPortNetdev(sf, '0000:42:00.0', 1)).toBeUndefined();
  });
});
