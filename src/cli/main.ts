import { CniError } from '../cni/errors.js';
import { SUPPORTED_VERSIONS } from '../cni/version.js';
import { UsageError, type CliIo, type Command } from './host.js';
import { ABOUT, HELP } from './help.js';

declare const __VERSION__: string;

// Loaded when asked for, so a command's libraries cost nothing to the others.
const COMMANDS: Record<string, () => Promise<Command>> = {
  doctor: async () => (await import('./doctor.js')).doctor,
  setup: async () => (await import('./setup.js')).setup,
  manifests: async () => (await import('./manifests.js')).manifests,
  flows: async () => (await import('./flows.js')).flows,
  status: async () => (await import('./status.js')).status,
};

/** The operator CLI: runs when CNI_COMMAND is not set. Returns the exit status. */
export async function runCli(io: CliIo): Promise<number> {
  const [cmd, ...rest] = io.argv;
  if (cmd === undefined) {
    // As libcni's skel does when run by hand: say what this is, on stderr.
    io.err(`${ABOUT}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\nRun "kube-ovn-offload --help" for usage.\n`);
    return 0;
  }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    const topic = rest[0] && COMMANDS[rest[0]];
    io.out(topic ? (await topic()).help : HELP);
    return 0;
  }
  if (cmd === 'version' || cmd === '--version') {
    io.out(`kube-ovn-offload ${typeof __VERSION__ === 'string' ? __VERSION__ : 'dev'}\n`);
    return 0;
  }
  const load = COMMANDS[cmd];
  if (!load) {
    io.err(`kube-ovn-offload: unknown command ${JSON.stringify(cmd)}\n\n${HELP}`);
    return 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.help);
    return 0;
  }
  try {
    return await command.run({ ...io, argv: rest });
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`kube-ovn-offload ${command.name}: ${err.message}\n\n${command.help}`);
      return 2;
    }
    if (err instanceof CniError) {
      io.err(`kube-ovn-offload ${command.name}: ${err.message}${err.details ? `\n  ${err.details}` : ''}\n`);
      return 1;
    }
    throw err;
  }
}
