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
    return runCli(process.argv.slice(2), (s) => process.stdout.write(s), (s) => process.stderr.write(s));
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
