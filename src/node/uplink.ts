import { isUplinkPortName } from './port-name.js';
import type { Sysfs } from './sysfs.js';

export interface PfNetdevs {
  /** The uplink: phys_switch_id non-empty and phys_port_name p<N>. Undefined in legacy mode. */
  uplink?: string;
  /** Every netdev of the PF's PCI device, representors included, sorted. */
  all: string[];
}

/**
 * The uplink of a PF. In switchdev mode <pf>/net also lists the representors, and one may
 * sort first (sriovnet#32, sriov-network-device-plugin#383), so never take the first entry.
 * Each netdev's phys_port_name first, its phys_switch_id only for a p<N>.
 */
export async function findUplink(sysfs: Sysfs, pf: string): Promise<PfNetdevs> {
  const all = await sysfs.list(sysfs.pciDevice(pf, 'net'));
  for (const dev of all) {
    const portName = await sysfs.read(sysfs.pciDevice(pf, 'net', dev, 'phys_port_name'));
    if (!portName || !isUplinkPortName(portName)) continue;
    if (await sysfs.read(sysfs.pciDevice(pf, 'net', dev, 'phys_switch_id'))) return { uplink: dev, all };
  }
  return { all };
}

/** The PCI function number of a PF ("0000:42:00.1" → 1), the N of its pfN representors. */
export function pfNumber(pf: string): number {
  return Number(pf.slice(-1));
}
