/**
 * The device-info file of a secondary network (device-info-spec 1.1.0): Multus copies the
 * device plugin's {"type":"pci","version":"1.0.0","pci":{"pci-address":…}} to the path it
 * passes as runtimeConfig.CNIDeviceInfoFile, and after the chain's ADD turns that file into
 * the pod's network-status "device-info". The plugin adds what only it knows: the PF and the
 * VF's representor.
 */
import { mkdir } from './fs-now.js';
import { dirname } from 'node:path';
import { MAX_DEVICE_INFO } from './device-id.js';
import { readRegularFile, replaceFile } from './files.js';

export interface DeviceInfoUpdate {
  vf: string;
  pf: string;
  /** The representor's name as the pod's ADD leaves it (after kube-ovn's rename). */
  representor?: string;
}

/**
 * Writes the VF, its PF and its representor into the file, keeping every other key (a device
 * plugin's rdma-device, vhost-net): through a new file renamed into place, mode 0444 as
 * Multus makes it. Version 1.0.0 becomes 1.1.0, which representor-device needs; a file of
 * another type or a newer version is left alone. Returns what it did, for the log; throws
 * when it cannot, and the caller only logs that.
 */
export async function updateDeviceInfo(path: string, u: DeviceInfoUpdate): Promise<string> {
  const doc = await current(path);
  if (doc.type !== undefined && doc.type !== 'pci') return `left alone: its type is ${JSON.stringify(doc.type)}, not "pci"`;
  const version = doc.version === undefined || doc.version === '1.0.0' ? '1.1.0' : doc.version;
  if (version !== '1.1.0') return `left alone: version ${JSON.stringify(version)} is one this release does not know`;
  const pci = typeof doc.pci === 'object' && doc.pci !== null && !Array.isArray(doc.pci) ? (doc.pci as Record<string, unknown>) : {};
  const next = {
    ...doc,
    type: 'pci',
    version,
    pci: { ...pci, 'pci-address': u.vf, 'pf-pci-address': u.pf, ...(u.representor ? { 'representor-device': u.representor } : {}) },
  };
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await replaceFile(path, JSON.stringify(next), 0o444);
  return `wrote pci-address ${u.vf}, pf-pci-address ${u.pf}${u.representor ? `, representor-device ${u.representor}` : ''}`;
}

/** The file's object; an absent one is empty; one that is not a JSON object is an error. */
async function current(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readRegularFile(path, MAX_DEVICE_INFO);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not JSON; it is not rewritten`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${path} holds no JSON object; it is not rewritten`);
  return doc as Record<string, unknown>;
}
