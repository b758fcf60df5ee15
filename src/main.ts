import { runCli } from './cli/main.js';
import { runPlugin } from './plugin/run.js';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<number> {
  if (!process.env.CNI_COMMAND) {
    return runCli({
      argv: process.argv.slice(2),
      env: process.env,
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(s),
      isTTY: Boolean(process.stdout.isTTY),
    });
  }
  return runPlugin({ env: process.env, stdin: await readStdin(), stdout: (s) => process.stdout.write(s) });
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
