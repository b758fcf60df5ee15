import { isPciAddress } from './pci.js';
import type { Sysfs } from './sysfs.js';
import { findUplink } from './uplink.js';

/** Mellanox (NVIDIA) PCI vendor id, as sysfs prints it. */
export const MELLANOX = '0x15b3';

// PF device ids of the families that do ASAP² (pci.ids); VFs have their own ids.
const FAMILIES: Record<string, string> = {
  '0x1017': 'ConnectX-5',
  '0x1019': 'ConnectX-5 Ex',
  '0x101b': 'ConnectX-6',
  '0x101d': 'ConnectX-6 Dx',
  '0x101f': 'ConnectX-6 Lx',
  '0x1021': 'ConnectX-7',
  '0x1023': 'ConnectX-8',
  '0xa2d2': 'BlueField',
  '0xa2d6': 'BlueField-2',
  '0xa2dc': 'BlueField-3',
};

export interface VfInventory {
  pci: string;
  index: number;
  /** PCI device id, e.g. "0x1018" (ConnectX-5 VF). */
  device: string;
  driver: string;
  netdevs: string[];
}

export interface PfInventory {
  pci: string;
  device: string;
  /** "ConnectX-5", …; undefined for a Mellanox device that does no ASAP². */
  family?: string;
  /** Netdevs of the PCI device: the uplink, and representors in switchdev. */
  netdevs: string[];
  uplink?: string;
  numVfs: number;
  totalVfs: number;
  vfs: VfInventory[];
}

/** The family name of a Mellanox PF device id, if it is one that does ASAP² offload. */
export function familyName(device: string): string | undefined {
  return FAMILIES[device];
}

/** Every Mellanox PF on the node (a PCI function of vendor 15b3 with no physfn), with its VFs. */
export async function mellanoxPfs(sysfs: Sysfs): Promise<PfInventory[]> {
  const pfs: PfInventory[] = [];
  for (const pci of await sysfs.list(sysfs.path('bus', 'pci', 'devices'))) {
    if (!isPciAddress(pci) || (await sysfs.read(sysfs.pciDevice(pci, 'vendor'))) !== MELLANOX) continue;
    if (await sysfs.linkName(sysfs.pciDevice(pci, 'physfn'))) continue; // a VF
    const device = (await sysfs.read(sysfs.pciDevice(pci, 'device'))) ?? '';
    const { uplink, all } = await findUplink(sysfs, pci);
    const entries = await sysfs.list(sysfs.pciDevice(pci));
    const vfs: VfInventory[] = [];
    for (const e of entries) {
      const m = /^virtfn(\d+)$/.exec(e); // "virtfn3" → VF 3
      if (!m) continue;
      const vf = await sysfs.linkName(sysfs.pciDevice(pci, e));
      if (!vf || !isPciAddress(vf)) continue;
      vfs.push({
        pci: vf,
        index: Number(m[1]),
        device: (await sysfs.read(sysfs.pciDevice(vf, 'device'))) ?? '',
        driver: (await sysfs.linkName(sysfs.pciDevice(vf, 'driver'))) ?? '',
        netdevs: await sysfs.list(sysfs.pciDevice(vf, 'net')),
      });
    }
    vfs.sort((a, b) => a.index - b.index);
    pfs.push({
      pci,
      device,
      family: familyName(device),
      netdevs: all,
      uplink,
      numVfs: Number((await sysfs.read(sysfs.pciDevice(pci, 'sriov_numvfs'))) ?? 0),
      totalVfs: Number((await sysfs.read(sysfs.pciDevice(pci, 'sriov_totalvfs'))) ?? 0),
      vfs,
    });
  }
  return pfs;
}

/**
 * The PF a name stands for: its PCI address, or one of its netdevs (the uplink in
 * switchdev, the PF netdev in legacy mode).
 */
export function pickPf(pfs: PfInventory[], name: string): PfInventory | undefined {
  return pfs.find((p) => p.pci === name || p.uplink === name || p.netdevs.includes(name));
}
