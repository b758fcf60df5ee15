// The entry point: CNI plugin or operator CLI. Each path loads only its own modules
// (dynamic imports become separate chunks), since every pod pays this start-up.

import { readStdin } from './cni/stdin.js';

async function main(): Promise<number> {
  const command = process.env.CNI_COMMAND;
  if (!command) {
    const { runCli } = await import('./cli/main.js');
    return runCli({
      argv: process.argv.slice(2),
      env: process.env,
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(s),
      isTTY: Boolean(process.stdout.isTTY),
    });
  }
  const stdin = await readStdin(process.stdin);
  if (command === 'VERSION') {
    // Needs nothing but the version table: no schema, no node tools.
    const { stdinVersion, versionResult } = await import('./cni/version.js');
    process.stdout.write(JSON.stringify(versionResult(stdinVersion(stdin.text))) + '\n');
    return 0;
  }
  const { runPlugin } = await import('./plugin/run.js');
  const code = await runPlugin({ env: process.env, stdin, stdout: (s) => process.stdout.write(s) });
  // The answer is out (stdout to a pipe or file is written synchronously on Linux): whatever
  // an invocation that hit its deadline still waits on must not keep the runtime waiting.
  process.exit(code);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Only a bug gets here; runPlugin turns every failure into a CNI error.
    process.stderr.write(`kube-ovn-offload: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
