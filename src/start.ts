// The process's one job: a CNI invocation when CNI_COMMAND is set, else the operator CLI.
// The entry points hand in how to load each path: main.ts (the bundle) imports it on demand,
// as separate chunks, since every pod pays this start-up; sea.ts (the single executable) has
// it all in its start-up snapshot already.

import { readStdin } from './cni/stdin.js';

export interface Paths {
  cli: () => Promise<typeof import('./cli/main.js')>;
  version: () => Promise<typeof import('./cni/version.js')>;
  plugin: () => Promise<typeof import('./plugin/run.js')>;
}

export function start(paths: Paths): void {
  main(paths).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // Only a bug gets here; runPlugin turns every failure into a CNI error.
      process.stderr.write(`kube-ovn-offload: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

async function main(paths: Paths): Promise<number> {
  const command = process.env.CNI_COMMAND;
  if (!command) {
    const { runCli } = await paths.cli();
    return runCli({
      argv: process.argv.slice(2),
      env: process.env,
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(s),
      isTTY: Boolean(process.stdout.isTTY),
    });
  }
  const stdin = await readStdin(process.stdin);
  let code = 0;
  if (command === 'VERSION') {
    // Needs nothing but the version table: no schema, no node tools.
    const { stdinVersion, versionResult } = await paths.version();
    process.stdout.write(JSON.stringify(versionResult(stdinVersion(stdin.text))) + '\n');
  } else {
    const { runPlugin } = await paths.plugin();
    code = await runPlugin({ env: process.env, stdin, stdout: (s) => process.stdout.write(s) });
  }
  // The answer is out (stdout to a pipe or file is written synchronously on Linux): whatever
  // an invocation that hit its deadline still waits on must not keep the runtime waiting.
  process.exit(code);
}
