/**
 * sim-kernel.ts bundled into one ESM file, which the fake tools start in ~60 ms instead of
 * ~230 ms through tsx: they run it on every change a plugin makes to the simulated node (a VF
 * moved back from a pod, a MAC reset), and many pods at once would otherwise spend their time
 * starting the simulator. The fake tools fall back to tsx when the bundle is missing.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const SIM_KERNEL_BUNDLE = fileURLToPath(new URL('../../.cache/sim-kernel.mjs', import.meta.url));

export async function buildSimKernel(): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL('./sim-kernel.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: SIM_KERNEL_BUNDLE,
    logLevel: 'warning',
  });
}
