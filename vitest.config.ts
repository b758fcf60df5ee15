import { defineConfig } from 'vitest/config';

export default defineConfig({
  // As esbuild's text loader in scripts/build.mjs: a .yaml import is the file's text (src/yaml-text.d.ts).
  plugins: [{
    name: 'yaml-as-text',
    transform: (code, id) => (id.endsWith('.yaml') ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined),
  }],
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Safety nets against a hung child, not speed assertions: speed is measured by a benchmark.
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ['default', 'json'],
    outputFile: { json: '.cache/vitest-report.json' },
  },
});
