import type { Config } from '../cni/config.js';
import { CniError, Code } from '../cni/errors.js';
import { FileTooLarge, NotRegularFile, readRegularFile } from './files.js';
import { parsePciAddress } from './pci.js';

// device-info-spec files are a few hundred bytes.
export const MAX_DEVICE_INFO = 64 * 1024;

export interface DeviceId {
  pci: string;
  source: 'runtimeConfig.deviceID' | 'deviceID' | 'pciBusID' | 'CNIDeviceInfoFile';
}

/** The first source that has a deviceID (the order of docs/configuration.md#where-deviceid-comes-from), as written: not validated. */
export async function rawDeviceId(sources: Config['deviceIdSources']): Promise<{ value: string; source: DeviceId['source'] } | undefined> {
  const inline: Array<[DeviceId['source'], string | undefined]> = [
    ['runtimeConfig.deviceID', sources.runtimeConfig],
    ['deviceID', sources.deviceID],
    ['pciBusID', sources.pciBusID],
  ];
  for (const [source, value] of inline) {
    if (value) return { value, source };
  }
  if (sources.deviceInfoFile) {
    const value = await readDeviceInfo(sources.deviceInfoFile);
    if (value) return { value, source: 'CNIDeviceInfoFile' };
  }
  return undefined;
}

/** The VF's PCI address, validated before anything builds a path from it; undefined when none. */
export async function findDeviceId(sources: Config['deviceIdSources']): Promise<DeviceId | undefined> {
  const raw = await rawDeviceId(sources);
  return raw && { pci: parsePciAddress(raw.value, raw.source), source: raw.source };
}

/** As findDeviceId, but a missing deviceID is code 101: the pod did not get a VF. */
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
    text = await readRegularFile(path, MAX_DEVICE_INFO);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    const why = err instanceof NotRegularFile || err instanceof FileTooLarge ? err.message : `${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`;
    throw new CniError(Code.IOFailure, `device-info file ${path} cannot be read`, `${why}; the device plugin writes it as a small JSON file`);
  }
  try {
    const doc = JSON.parse(text) as { pci?: { 'pci-address'?: unknown } };
    const addr = doc.pci?.['pci-address'];
    return typeof addr === 'string' && addr ? addr : undefined;
  } catch (err) {
    // What the parser said, without what it quotes: V8's message cites the text ("Unexpected
    // token 'r', "root:$6$..." is not valid JSON"), and any root-readable file's bytes would
    // reach `kubectl describe pod`.
    const said = (err as Error).message.replace(/, ".*$/s, '').replace(/^(Unexpected token) '.+'$/s, '$1');
    throw new CniError(Code.IOFailure, `device-info file ${path} is not valid JSON`, `${said}; the device plugin writes it as {"type":"pci","pci":{"pci-address":"<VF>"}}`);
  }
}
