import { CniError, Code } from '../cni/errors.js';
import { isPciAddress } from './pci.js';
import type { Sysfs } from './sysfs.js';

export interface Vf {
  pci: string;
  /** The PF's PCI address, from the VF's physfn link. */
  pf: string;
  /** N in the PF's virtfnN link that points back at this VF. */
  index: number;
  /** Entries of <vf>/net: one on a kernel driver, none on vfio-pci or once in a pod netns. */
  netdevs: string[];
  /** Basename of <vf>/driver, "" when unbound. */
  driver: string;
}

const VIRTFN = /^virtfn(\d+)$/; // "virtfn3" → VF index 3

/** VF → PF → VF index, from sysfs (sriovnet's GetPfPciFromVfPci and GetVfIndexByPciAddress). */
export async function resolveVf(sysfs: Sysfs, pci: string): Promise<Vf> {
  const [exists, pf, netdevs, driver] = await Promise.all([
    sysfs.list(sysfs.pciDevice(pci)),
    sysfs.linkName(sysfs.pciDevice(pci, 'physfn')),
    sysfs.list(sysfs.pciDevice(pci, 'net')),
    sysfs.linkName(sysfs.pciDevice(pci, 'driver')),
  ]);
  if (exists.length === 0) {
    throw new CniError(Code.NotAVf, `deviceID ${pci} is not a PCI device on this node`, `${sysfs.pciDevice(pci)} does not exist; the device plugin allocated a VF this node does not have — check its ConfigMap selectors and that the VFs exist (cat /sys/class/net/<pf>/device/sriov_numvfs)`);
  }
  if (!pf || !isPciAddress(pf)) {
    throw new CniError(Code.NotAVf, `deviceID ${pci} is not an SR-IOV VF (it has no physfn)`, `${sysfs.pciDevice(pci, 'physfn')} is missing; the device plugin's selectors must pick VFs (device 1018 on ConnectX-5), not PFs`);
  }
  return { pci, pf, index: await vfIndex(sysfs, pf, pci), netdevs, driver: driver ?? '' };
}

async function vfIndex(sysfs: Sysfs, pf: string, vf: string): Promise<number> {
  const computed = await indexFromRoutingIds(sysfs, pf, vf);
  if (computed !== undefined) return computed;
  const entries = (await sysfs.list(sysfs.pciDevice(pf))).filter((e) => VIRTFN.test(e));
  const targets = await Promise.all(entries.map((e) => sysfs.linkName(sysfs.pciDevice(pf, e))));
  const i = targets.indexOf(vf);
  if (i < 0) {
    throw new CniError(Code.NotAVf, `VF ${vf} is not listed by its PF ${pf}`, `no ${sysfs.pciDevice(pf)}/virtfn<N> link points at ${vf}`);
  }
  return Number(VIRTFN.exec(entries[i]!)![1]);
}

/**
 * The VF's index from PCI routing IDs, as the kernel places VFs (pci_iov_virtfn_bus/devfn):
 * VF N has the PF's routing ID + sriov_offset + N × sriov_stride. One check of virtfnN
 * instead of reading every virtfn link, so ADD costs the same for VF 0 and VF 127. Undefined
 * when sysfs has no such files (old kernels) or the link disagrees: then every link is read.
 */
async function indexFromRoutingIds(sysfs: Sysfs, pf: string, vf: string): Promise<number | undefined> {
  if (pf.slice(0, 4) !== vf.slice(0, 4)) return undefined; // VFs share their PF's domain
  const [offset, stride] = await Promise.all([sysfs.read(sysfs.pciDevice(pf, 'sriov_offset')), sysfs.read(sysfs.pciDevice(pf, 'sriov_stride'))]);
  if (!offset || !stride || !/^\d+$/.test(offset) || !/^[1-9]\d*$/.test(stride)) return undefined;
  const n = (routingId(vf) - routingId(pf) - Number(offset)) / Number(stride);
  if (!Number.isInteger(n) || n < 0) return undefined;
  return (await sysfs.linkName(sysfs.pciDevice(pf, `virtfn${n}`))) === vf ? n : undefined;
}

/** "0000:42:01.3" → bus 0x42, device 1, function 3 → (bus << 8) | (device << 3) | function. */
function routingId(pci: string): number {
  return (parseInt(pci.slice(5, 7), 16) << 8) | (parseInt(pci.slice(8, 10), 16) << 3) | Number(pci.slice(11));
}
