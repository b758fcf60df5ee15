import { SUPPORTED_VERSIONS } from '../cni/version.js';
import { ABOUT, HELP } from './help.js';

declare const __VERSION__: string;

/** The operator CLI: runs when CNI_COMMAND is not set. Returns the exit status. */
export function runCli(argv: string[], out: (s: string) => void, err: (s: string) => void): number {
  const [cmd] = argv;
  if (cmd === undefined) {
    // As libcni's skel does when run by hand: say what this is, on stderr.
    err(`${ABOUT}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\nRun "kube-ovn-offload --help" for usage.\n`);
    return 0;
  }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    out(HELP);
    return 0;
  }
  if (cmd === 'version' || cmd === '--version') {
    out(`kube-ovn-offload ${typeof __VERSION__ === 'string' ? __VERSION__ : 'dev'}\n`);
    return 0;
  }
  err(`kube-ovn-offload: unknown command ${JSON.stringify(cmd)}\n\n${HELP}`);
  return 2;
}
