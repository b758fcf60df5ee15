/**
 * The test-only stand-in for kube-ovn's CNI binary (test/support/kube-ovn-cni, Go on Debian's
 * libcni; never shipped). It is named `kube-ovn`, so a conflist entry `"type": "kube-ovn"` finds
 * it when its directory is in CNI_PATH. The vitest global setup builds it as root; anyone else
 * may call buildKubeOvnCni() (a no-op when the binary is up to date).
 */
import { execa } from 'execa';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KUBE_OVN_CNI = fileURLToPath(new URL('../../.cache/kube-ovn', import.meta.url));
/** The directory to put in CNI_PATH. */
export const KUBE_OVN_CNI_DIR = dirname(KUBE_OVN_CNI);
const BUILD_GO = fileURLToPath(new URL('./build-go.sh', import.meta.url));

export async function buildKubeOvnCni(): Promise<void> {
  await execa('bash', [BUILD_GO, 'kube-ovn-cni', KUBE_OVN_CNI], { timeout: 300_000, stdio: 'inherit' });
}

/** nad-status (test/support/nad-status): the network-status entry Multus makes from a device-info file. */
export const NAD_STATUS = fileURLToPath(new URL('../../.cache/nad-status', import.meta.url));

export async function buildNadStatus(): Promise<void> {
  await execa('bash', [BUILD_GO, 'nad-status', NAD_STATUS], { timeout: 300_000, stdio: 'inherit' });
}
