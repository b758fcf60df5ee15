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

/**
 * The PF's netdev whose phys_port_name is pf<P>vf<N>. `likely`, a name it probably has (the
 * one kube-ovn's daemon renames it to), is asked first: one read instead of one per netdev.
 */
export async function representorFromSysfs(sysfs: Sysfs, pf: string, vfIndex: number, likely?: string): Promise<string | undefined> {
  const want = pfNumber(pf);
  const isIt = async (dev: string) => {
    const portName = await sysfs.read(sysfs.pciDevice(pf, 'net', dev, 'phys_port_name'));
    const parsed = portName ? parseVfPortName(portName) : undefined;
    return parsed !== undefined && parsed.pf === want && parsed.vf === vfIndex;
  };
  if (likely && (await isIt(likely))) return likely;
  for (const dev of await sysfs.list(sysfs.pciDevice(pf, 'net'))) {
    if (await isIt(dev)) return dev;
  }
  return undefined;
}
