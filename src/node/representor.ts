import { vfPortNetdev, type DevlinkPort } from './devlink.js';
import type { Answer } from './tools.js';
import { parseVfPortName } from './port-name.js';
import { pfNumber } from './uplink.js';
import type { Sysfs } from './sysfs.js';

export interface Representor {
  name: string;
  /** "devlink" or "sysfs phys_port_name": which source spoke. */
  source: string;
}

/**
 * The VF's representor: devlink's port list first (flavour pcivf, controller 0, vfnum N on
 * the PF's instance), then the PF's netdevs whose phys_port_name is pf<P>vf<N> with P the PF.
 */
export async function findRepresentor(sysfs: Sysfs, ports: Answer<DevlinkPort[]>, pf: string, vfIndex: number): Promise<Representor | undefined> {
  if (ports.value) {
    const name = vfPortNetdev(ports.value, pf, vfIndex);
    if (name) return { name, source: 'devlink' };
  }
  const name = await representorFromSysfs(sysfs, pf, vfIndex);
  return name ? { name, source: 'sysfs phys_port_name' } : undefined;
}

export async function representorFromSysfs(sysfs: Sysfs, pf: string, vfIndex: number): Promise<string | undefined> {
  const want = pfNumber(pf);
  for (const dev of await sysfs.list(sysfs.pciDevice(pf, 'net'))) {
    const portName = await sysfs.read(sysfs.pciDevice(pf, 'net', dev, 'phys_port_name'));
    const parsed = portName ? parseVfPortName(portName) : undefined;
    if (parsed && parsed.pf === want && parsed.vf === vfIndex) return dev;
  }
  return undefined;
}
