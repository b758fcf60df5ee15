// `import text from '…/x.yaml'` gives the file's text: esbuild's text loader does it in the
// bundle and the single executable (scripts/build.mjs), the yaml-as-text plugin under vitest
// (vitest.config.ts). That is how `manifests` carries deploy/daemonset.yaml with no file beside it.
declare module '*.yaml' {
  const text: string;
  export default text;
}
