/** Builds what the tests run: the plugin bundle (always) and cnitool (for the root e2e suite). */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { buildCnitool, isRoot } from './e2e.js';

export default async function setup(): Promise<void> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  await execa('node', ['scripts/build.mjs'], { cwd: root, timeout: 120_000, stdio: 'inherit' });
  if (isRoot) await buildCnitool();
}
