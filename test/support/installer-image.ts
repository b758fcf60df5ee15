/**
 * The installer image `npm run image` builds (scripts/image.mjs): where its OCI archive lands
 * and the name it carries for `ctr images import`. The vitest global setup builds it as root.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const { version } = JSON.parse(readFileSync(`${REPO}/package.json`, 'utf8')) as { version: string };

export const INSTALLER_ARCHIVE = `${REPO}dist/image/kube-ovn-offload-installer.tar`;
export const INSTALLER_REF = `localhost/kube-ovn-offload:${version}`;

/** Why the global setup could not build it (a Debian mirror out of reach, say), for the suites that need it. */
const FAILED = `${REPO}.cache/installer-image.failed`;

/**
 * Builds it; a failure is kept for installerImageProblem() instead of thrown, so that it fails
 * the suites that run the image, not every suite of `npm test`.
 */
export async function buildInstallerImage(): Promise<void> {
  rmSync(FAILED, { force: true });
  const r = await execa('node', ['scripts/image.mjs'], { cwd: REPO, timeout: 900_000, stdio: 'inherit', reject: false });
  if (r.exitCode === 0) return;
  mkdirSync(`${REPO}.cache`, { recursive: true });
  writeFileSync(FAILED, `npm run image failed (${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}); its output is above in the test run's log\n`);
}

export function installerImageProblem(): string | undefined {
  return existsSync(FAILED) ? readFileSync(FAILED, 'utf8').trim() : undefined;
}
