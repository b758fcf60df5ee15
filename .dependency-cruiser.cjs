/**
 * The layers of src/ (npm run lint:layers, and part of npm test). Each may import only those
 * below it, so that the protocols can be read, tested and reused without the plugin:
 *
 *   src/main.ts, start.ts, sea.ts   the entries: anything
 *   src/cli/                        the operator CLI: plugin, kubeovn, node, cni
 *   src/plugin/                     add, del, check, status, gc: kubeovn, node, cni
 *   src/kubeovn/   src/node/        the daemon protocol; this node's hardware: cni only
 *   src/cni/                        the CNI protocol: nothing else of ours
 *
 * and no import cycle anywhere in src/. Type-only imports count: a layer that names another's
 * types depends on it. npm packages, node: built-ins and deploy/ (bundled as text) are not
 * layers. test/ and bench/ are not checked.
 */
const layer = (name, dir, mayUse) => ({
  name,
  comment: `src/${dir}/ may import only ${mayUse.length ? mayUse.map((d) => `src/${d}/`).join(', ') : 'itself'} of src/`,
  severity: 'error',
  from: { path: `^src/${dir}/` },
  to: { path: '^src/', pathNot: `^src/(${[dir, ...mayUse].join('|')})/` },
});

module.exports = {
  forbidden: [
    layer('cni-alone', 'cni', []),
    layer('node-on-cni', 'node', ['cni']),
    layer('kubeovn-on-cni', 'kubeovn', ['cni']),
    layer('plugin-below', 'plugin', ['kubeovn', 'node', 'cni']),
    layer('cli-below', 'cli', ['plugin', 'kubeovn', 'node', 'cni']),
    {
      name: 'no-circular',
      comment: 'an import cycle in src/: modules that cannot be loaded, or understood, one before the other',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      // Without it an import the resolver misses (a .js that names no .ts) passes every rule.
      name: 'resolvable',
      comment: 'an import that does not resolve to a file, a package or a node: built-in',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // "../cni/errors.js" names errors.ts (NodeNext); import type counts as a dependency.
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
