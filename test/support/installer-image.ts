/**
 * The installer image `npm run image` builds (scripts/image.mjs): where its OCI archive lands
 * and the name it carries for `ctr images import`. The vitest global setup builds it as root.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const { version } = JSON.parse(readFileSync(`${REPO}/package.json`, 'utf8')) as { version: string };

export const INSTALLER_ARCHIVE = `${REPO}dist/image/kube-ovn-offload-installer.tar`;
export const INSTALLER_REF = `localhost/kube-ovn-offload:${version}`;

export async function buildInstallerImage(): Promise<void> {
  await execa('node', ['scripts/image.mjs'], { cwd: REPO, timeout: 900_000, stdio: 'inherit' });
}
