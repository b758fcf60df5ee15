import { readFile } from 'node:fs/promises';
import type { Config } from '../cni/config.js';
import { CniError, Code } from '../cni/errors.js';
import { parsePciAddress } from './pci.js';

export interface DeviceId {
  pci: string;
  source: 'runtimeConfig.deviceID' | 'deviceID' | 'pciBusID' | 'CNIDeviceInfoFile';
}

/**
 * The VF's PCI address from the sources Multus fills, first found wins (DESIGN §2.2),
 * validated before anything builds a path from it. Undefined when no source has one.
 */
export async function findDeviceId(sources: Config['deviceIdSources']): Promise<DeviceId | undefined> {
  const inline: Array<[DeviceId['source'], string | undefined]> = [
    ['runtimeConfig.deviceID', sources.runtimeConfig],
    ['deviceID', sources.deviceID],
    ['pciBusID', sources.pciBusID],
  ];
  for (const [source, value] of inline) {
    if (value) return { pci: parsePciAddress(value, source), source };
  }
  if (sources.deviceInfoFile) {
    const fromFile = await readDeviceInfo(sources.deviceInfoFile);
    if (fromFile) return { pci: parsePciAddress(fromFile, `CNIDeviceInfoFile ${sources.deviceInfoFile}`), source: 'CNIDeviceInfoFile' };
  }
  return undefined;
}

export async function requireDeviceId(sources: Config['deviceIdSources']): Promise<DeviceId> {
  const id = await findDeviceId(sources);
  if (id) return id;
  throw new CniError(
    Code.NoDeviceID,
    'no deviceID: the pod was not given an SR-IOV VF',
    'Multus injects deviceID only when the NetworkAttachmentDefinition has the annotation k8s.v1.cni.cncf.io/resourceName ' +
      '(e.g. mellanox.com/cx5_sriov_switchdev) and the pod requests that resource in resources.requests and resources.limits',
  );
}

// device-info-spec 1.x: {"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:42:00.2"}}
async function readDeviceInfo(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const doc = JSON.parse(text) as { pci?: { 'pci-address'?: unknown } };
    const addr = doc.pci?.['pci-address'];
    return typeof addr === 'string' && addr ? addr : undefined;
  } catch {
    throw new CniError(Code.DecodingFailure, `device-info file ${path} is not valid JSON`, text.slice(0, 200));
  }
}
