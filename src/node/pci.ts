import { CniError, Code } from '../cni/errors.js';

// "0000:42:00.2": domain:bus:device.function, the only form a path may be built from.
const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** Lower-cases and validates a PCI address, so "../../etc" never reaches a path. */
export function parsePciAddress(raw: string, source: string): string {
  const pci = raw.toLowerCase();
  if (!PCI_ADDRESS.test(pci)) {
    throw new CniError(
      Code.InvalidConfig,
      `deviceID ${JSON.stringify(raw)} from ${source} is not a PCI address`,
      'expected the form 0000:42:00.2 (domain:bus:device.function), as the SR-IOV device plugin allocates it',
    );
  }
  return pci;
}

export function isPciAddress(s: string): boolean {
  return PCI_ADDRESS.test(s);
}
