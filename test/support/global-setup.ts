/**
 * Builds what the tests run: the plugin bundle, the simulated kernel's and nad-status (always); as root, for
 * the e2e and runtime suites, cnitool, the kube-ovn CNI stand-in, the real Multus v4.0.2 and our
 * fake kubelet (from third_party/; about a minute cold, a no-op once built), the single executable
 * (`npm run package`), which the e2e suite runs as well, and the installer image (`npm run image`).
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { buildCnitool, isRoot } from './e2e.js';
import { buildKubeOvnCni, buildNadStatus } from './kube-ovn-cni.js';
import { buildMultus } from './multus.js';
import { buildSimKernel } from './sim-kernel-bundle.js';
import { buildInstallerImage } from './installer-image.js';

export default async function setup(): Promise<void> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  await execa('node', ['scripts/build.mjs'], { cwd: root, timeout: 120_000, stdio: 'inherit' });
  await buildSimKernel();
  await buildNadStatus();
  if (isRoot) {
    await buildCnitool();
    await buildKubeOvnCni();
    await buildMultus();
    await execa('bash', ['scripts/package.sh'], { cwd: root, timeout: 300_000, stdio: 'inherit' });
    await buildInstallerImage();
  }
}
