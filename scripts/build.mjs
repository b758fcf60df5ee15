// Bundles src/main.ts for bin/kube-ovn-offload: dist/kube-ovn-offload.mjs plus chunks that
// load only when their path needs them (the CLI never loads for a CNI call, nor the plugin
// for the CLI). `--sea` instead writes one CommonJS file of src/sea.ts for the single executable.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const sea = process.argv.includes('--sea');

const common = {
  entryPoints: { 'kube-ovn-offload': 'src/main.ts' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  define: { __VERSION__: JSON.stringify(version) },
  // `manifests` prints deploy/daemonset.yaml: imported as text, so the executable carries it.
  loader: { '.yaml': 'text' },
  logLevel: 'warning',
};

if (sea) {
  // Node 20's single executable runs one CommonJS script, from src/sea.ts: everything in it,
  // ready for the start-up snapshot.
  await build({ ...common, entryPoints: { 'kube-ovn-offload': 'src/sea.ts' }, outfile: 'dist/sea/kube-ovn-offload.cjs', format: 'cjs' });
  // The operator CLI, outside the snapshot: an asset of the executable that src/sea.ts compiles when asked.
  await build({ ...common, entryPoints: { cli: 'src/cli/main.ts' }, outfile: 'dist/sea/cli.cjs', format: 'cjs' });
} else {
  rmSync('dist/chunks', { recursive: true, force: true });
  await build({
    ...common,
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    splitting: true,
    sourcemap: 'linked',
    // execa (ESM) pulls in CommonJS dependencies that call require().
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}
