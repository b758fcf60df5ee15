/**
 * Support for the fuzz suite: run the built plugin with raw bytes on stdin (optionally under
 * strace), read strace's per-process traces back as file-system operations, and judge stdout
 * and the exit status against the CNI contract (docs/plugin.md#the-executable, docs/errors.md#error-codes).
 */
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { PLUGIN_BIN } from './plugin.js';

/** Every system call that creates, opens, renames or removes a path; chdir too (see readTrace). */
export const TRACED_SYSCALLS = [
  'open', 'openat', 'openat2', 'creat',
  'mkdir', 'mkdirat',
  'rename', 'renameat', 'renameat2',
  'unlink', 'unlinkat', 'link', 'linkat', 'symlink', 'symlinkat',
  'chdir', 'fchdir',
] as const;

export interface RawRun {
  stdin: Buffer;
  /** The whole environment: nothing is inherited from the test process. */
  env: Record<string, string>;
  cwd: string;
  /** When set, run under `strace -ff -o <trace>`: one file per process, <trace>.<pid>. */
  trace?: string;
  timeoutMs?: number;
}

export interface RawOutcome {
  exitCode: number | undefined;
  signal: string | undefined;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

export async function runRaw(run: RawRun): Promise<RawOutcome> {
  const [file, args] = run.trace
    ? ['strace', ['-ff', '-qq', '-s', '8192', '-xx', '-y', '-e', `trace=${TRACED_SYSCALLS.join(',')}`, '-o', run.trace, PLUGIN_BIN]]
    : [PLUGIN_BIN, []];
  const r = await execa(file, args, {
    input: run.stdin,
    env: run.env,
    extendEnv: false,
    cwd: run.cwd,
    reject: false,
    timeout: run.timeoutMs ?? 20_000,
    stripFinalNewline: false,
    encoding: 'utf8',
  });
  return {
    exitCode: r.exitCode,
    signal: r.signal,
    timedOut: r.timedOut,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
  };
}

/** A file-system operation seen in a trace, its paths made absolute (latin1: one char a byte). */
export interface FsOp {
  pid: number;
  syscall: string;
  /** The paths the call creates, opens for writing, renames or removes (absolute, normalised). */
  paths: string[];
  /** Whether the call modifies the file system (or opens something for writing). */
  writes: boolean;
  /** strace's "= …" part: "0", "3<…>", "-1 EEXIST (File exists)". */
  result: string;
  /** The line as strace wrote it, hex decoded, for messages. */
  line: string;
}

const WRITE_FLAGS = /\b(O_WRONLY|O_RDWR|O_CREAT|O_TRUNC)\b/;

/** "\x2f\x74" → "/t", as latin1 so that every byte of the path stays one character. */
function unhex(s: string): string {
  return Buffer.from(s.replace(/\\x([0-9a-f]{2})/g, '$1'), 'hex').toString('latin1');
}

/** Splits strace's argument list at top-level ", " (strings are all hex, so no quotes to mind). */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '{' || c === '[' || c === '<') depth++;
    else if (c === '}' || c === ']' || c === '>') depth--;
    if (depth === 0 && c === ',' && text[i + 1] === ' ') {
      out.push(cur);
      cur = '';
      i++;
      continue;
    }
    cur += c;
  }
  if (cur) out.push(cur);
  return out;
}

const str = (arg: string | undefined): string | undefined => {
  const m = /^"((?:\\x[0-9a-f]{2})*)"/.exec(arg ?? '');
  return m ? unhex(m[1]!) : undefined;
};
/** "AT_FDCWD</tmp/x>" or "3</tmp/x>" → "/tmp/x". */
const fdPath = (arg: string | undefined): string | undefined => {
  const m = /<((?:\\x[0-9a-f]{2})*)>/.exec(arg ?? '');
  return m ? unhex(m[1]!) : undefined;
};

/**
 * Reads every <prefix>.<pid> file strace wrote and returns the operations in them. Relative
 * paths of the non-*at calls resolve against `cwd`, which is right as long as no traced
 * process changes to another directory: libuv's spawn does chdir(<cwd>) in each child it
 * starts with a cwd option (the node tools), to the same folder; forbiddenWrites refuses any
 * other chdir rather than resolve paths wrongly.
 */
export function readTrace(prefix: string, cwd: string): FsOp[] {
  const dir = dirname(prefix);
  const base = prefix.slice(dir.length + 1) + '.';
  const ops: FsOp[] = [];
  for (const f of readdirSync(dir).filter((n) => n.startsWith(base))) {
    const pid = Number(f.slice(base.length));
    for (const raw of readFileSync(join(dir, f), 'latin1').split('\n')) {
      const m = /^(\w+)\((.*)\)\s+= (.*)$/.exec(raw);
      if (!m) continue; // "+++ exited …", "--- SIGCHLD …", blank
      const [, syscall, argText, result] = m as unknown as [string, string, string, string];
      const args = splitArgs(argText);
      const at = (dirArg: string | undefined, pathArg: string | undefined): string => {
        const p = str(pathArg) ?? '';
        if (isAbsolute(p)) return resolve(p);
        return resolve(fdPath(dirArg) ?? cwd, p);
      };
      const plain = (pathArg: string | undefined): string => resolve(cwd, str(pathArg) ?? '');
      let paths: string[] = [];
      let writes = true;
      switch (syscall) {
        case 'open': paths = [plain(args[0])]; writes = WRITE_FLAGS.test(args[1] ?? ''); break;
        case 'openat': case 'openat2': paths = [at(args[0], args[1])]; writes = WRITE_FLAGS.test(args[2] ?? ''); break;
        case 'creat': case 'mkdir': case 'unlink': paths = [plain(args[0])]; break;
        case 'chdir': paths = [plain(args[0])]; writes = false; break;
        case 'mkdirat': case 'unlinkat': paths = [at(args[0], args[1])]; break;
        case 'rename': case 'link': paths = [plain(args[0]), plain(args[1])]; break;
        case 'renameat': case 'renameat2': case 'linkat': paths = [at(args[0], args[1]), at(args[2], args[3])]; break;
        case 'symlink': paths = [plain(args[1])]; break; // the target is only the link's content
        case 'symlinkat': paths = [at(args[1], args[2])]; break;
        case 'fchdir': paths = [fdPath(args[0]) ?? '<unknown fd>']; writes = false; break;
        default: continue;
      }
      const line = raw.replace(/\\x([0-9a-f]{2})(?:\\x[0-9a-f]{2})*/g, (s) => JSON.stringify(unhex(s)).slice(1, -1));
      ops.push({ pid, syscall, paths, writes, result, line });
    }
  }
  return ops;
}

/** Whether `p` is `root` or below it (both absolute and normalised). */
export function within(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

export interface Allowed {
  /** Trees the plugin may write anywhere in: the sysfs root, the state dir. */
  trees: string[];
  /** The config's log_file, absolute (latin1 form of its UTF-8 bytes), when it has one. */
  logFile?: string;
  /**
   * Exact paths opened for writing by Node itself (not by the plugin), each with why it is
   * harmless. Matched against opens only, never against mkdir/rename/unlink/link.
   */
  nodeOpens: Array<{ path: string | RegExp; why: string }>;
}

/**
 * The operations that write to a path outside what is allowed, and any change to a directory
 * other than `cwd` (after which relative paths could not be placed); empty when all is well.
 */
export function forbiddenWrites(ops: FsOp[], allowed: Allowed, cwd: string): FsOp[] {
  return ops.filter((op) =>
    op.syscall === 'chdir' || op.syscall === 'fchdir' ? op.paths[0] !== cwd : op.writes && !op.paths.every((p) => isAllowed(op, p, allowed)));
}

function isAllowed(op: FsOp, p: string, allowed: Allowed): boolean {
  if (allowed.trees.some((t) => within(p, t))) return true;
  if (allowed.logFile !== undefined) {
    const isOpen = op.syscall === 'open' || op.syscall === 'openat' || op.syscall === 'openat2' || op.syscall === 'creat';
    if (isOpen && p === allowed.logFile) return true;
    // The logger makes the log file's folders (mkdir -p), as log_file asks for.
    if ((op.syscall === 'mkdir' || op.syscall === 'mkdirat') && within(allowed.logFile, p) && p !== allowed.logFile) return true;
  }
  if (op.syscall === 'open' || op.syscall === 'openat' || op.syscall === 'openat2') {
    return allowed.nodeOpens.some((n) => (typeof n.path === 'string' ? n.path === p : n.path.test(p)));
  }
  return false;
}

/** A path as strace shows it: the UTF-8 bytes of a JS string, one latin1 char per byte. */
export function asTracePath(cwd: string, p: string): string {
  return resolve(cwd, Buffer.from(p, 'utf8').toString('latin1'));
}

/** The CNI error codes of docs/errors.md (109: CHECK found the pod's interface changed). */
export const CONTRACT_CODES = new Set([1, 4, 5, 6, 7, 11, 50, 51, 101, 102, 103, 104, 105, 106, 107, 108, 109]);

/**
 * What is wrong with an outcome, as a list of sentences (empty when it keeps the contract):
 * the exit status is 0 or 1; stdout is empty or exactly one JSON document on one line; with
 * status 1 that document is a CNI error with a documented code and a one-line message.
 */
export function contractBreaches(out: RawOutcome): string[] {
  const bad: string[] = [];
  if (out.timedOut) return ['the plugin did not finish within the timeout'];
  if (out.signal) bad.push(`killed by signal ${out.signal}`);
  if (out.exitCode !== 0 && out.exitCode !== 1) bad.push(`exit status ${out.exitCode}, expected 0 or 1`);
  let doc: unknown;
  if (out.stdout !== '') {
    if (!/^[^\n]+\n$/.test(out.stdout)) bad.push('stdout is not exactly one line ending in a newline');
    try {
      doc = JSON.parse(out.stdout);
    } catch (err) {
      bad.push(`stdout is not one JSON document: ${(err as Error).message}`);
    }
    if (doc !== undefined && (typeof doc !== 'object' || doc === null || Array.isArray(doc))) bad.push('stdout is JSON but not an object');
  }
  if (out.exitCode === 1) {
    if (out.stdout === '') bad.push('exit status 1 with nothing on stdout (an uncaught failure, not a CNI error)');
    else if (doc && typeof doc === 'object') {
      const e = doc as Record<string, unknown>;
      if (typeof e.cniVersion !== 'string') bad.push('error has no string cniVersion');
      if (typeof e.code !== 'number' || !Number.isInteger(e.code)) bad.push('error has no integer code');
      else if (!CONTRACT_CODES.has(e.code)) bad.push(`error code ${e.code} is not one of docs/errors.md's (999 is an unhandled exception)`);
      if (typeof e.msg !== 'string' || e.msg.trim() === '') bad.push('error has no msg');
      else if (/[\r\n]/.test(e.msg)) bad.push('error msg is more than one line');
      if ('details' in e && typeof e.details !== 'string') bad.push('error details is not a string');
    }
  }
  return bad;
}

/** A fresh temp folder, and its removal. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
