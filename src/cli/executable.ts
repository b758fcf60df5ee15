/**
 * A binary in the CNI bin dir as doctor sees it: there, executable, built for this machine, and
 * what it says when run. The file is looked at before it is run: Node's spawn, like execvp,
 * hands a file the kernel refuses (ENOEXEC: another architecture, a truncated ELF) to /bin/sh,
 * which would then "run" its bytes; the runtime's exec (Go's os/exec) gets "exec format error".
 */
import { open, lstat, readlink, stat } from 'node:fs/promises';
import { preview } from '../cni/preview.js';
import { toolRunner, type ToolOutput } from '../node/tools.js';

/** What is at the path, before anything is run. */
export type Inspection =
  | { state: 'absent' }
  | { state: 'unrunnable'; why: string; fix?: string }
  | { state: 'runnable'; kind: 'elf' | 'script'; interpreter?: string };

export async function inspectExecutable(path: string, machine: string = process.arch): Promise<Inspection> {
  try {
    await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    return { state: 'unrunnable', why: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'unrunnable', why: `is a symlink to ${await readlink(path).catch(() => '?')}, which does not exist` };
    return { state: 'unrunnable', why: `cannot be read: ${code ?? (err as Error).message}` };
  }
  if (!info.isFile()) return { state: 'unrunnable', why: info.isDirectory() ? 'is a directory' : 'is not a regular file' };
  if ((info.mode & 0o111) === 0) {
    return { state: 'unrunnable', why: `is not executable (mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')})`, fix: `chmod 755 ${path}` };
  }
  const head = Buffer.alloc(HEADER_BYTES);
  const file = await open(path, 'r');
  let length;
  try {
    ({ bytesRead: length } = await file.read(head, 0, HEADER_BYTES, 0));
  } finally {
    await file.close();
  }
  const header = head.subarray(0, length);
  if (header.subarray(0, 2).toString('latin1') === '#!') {
    return { state: 'runnable', kind: 'script', interpreter: header.toString('latin1').split('\n')[0]!.slice(2).trim() };
  }
  if (!isElf(header)) {
    return { state: 'unrunnable', why: `is neither an ELF executable nor a #! script (${info.size} bytes, starting ${preview(header.subarray(0, 16).toString('latin1'), 40)})` };
  }
  const problem = elfProblem(header, info.size, machine);
  return problem ? { state: 'unrunnable', why: problem } : { state: 'runnable', kind: 'elf' };
}

// 64 bytes: the whole ELF header of a 64-bit file (52 for 32-bit); a #! line's start.
const HEADER_BYTES = 64;

function isElf(header: Buffer): boolean {
  return header.length >= 4 && header[0] === 0x7f && header.subarray(1, 4).toString('latin1') === 'ELF';
}

/** e_machine → Node's process.arch name, for the machines Node runs on. */
const MACHINES: Record<number, string> = {
  0x03: 'ia32',
  0x14: 'ppc',
  0x15: 'ppc64',
  0x16: 's390x',
  0x28: 'arm',
  0x3e: 'x64',
  0xb7: 'arm64',
  0xf3: 'riscv64',
  0x102: 'loong64',
};

/**
 * Why the kernel would refuse this ELF, or undefined: built for another machine, or shorter
 * than its own header says (a copy cut short). `header` is the file's first 64 bytes.
 */
export function elfProblem(header: Buffer, size: number, machine: string): string | undefined {
  const is64 = header[4] === 2; // EI_CLASS: 1 = 32-bit, 2 = 64-bit
  const headerSize = is64 ? 64 : 52;
  if (header.length < headerSize || size < headerSize) return `is a truncated ELF file (${size} bytes, shorter than its own header)`;
  const le = header[5] !== 2; // EI_DATA: 1 = little-endian, 2 = big-endian
  const u16 = (at: number) => (le ? header.readUInt16LE(at) : header.readUInt16BE(at));
  const off = (at: number) => (is64 ? Number(le ? header.readBigUInt64LE(at) : header.readBigUInt64BE(at)) : le ? header.readUInt32LE(at) : header.readUInt32BE(at));
  const eMachine = u16(18);
  const built = MACHINES[eMachine] ?? `ELF machine ${eMachine}`;
  if (built !== machine) return `is built for ${built}, and this machine is ${machine}`;
  // Program headers (what exec maps) and section headers (at the end: a cut copy loses them first).
  const [phoff, shoff] = is64 ? [off(32), off(40)] : [off(28), off(32)];
  const [phentsize, phnum, shentsize, shnum] = is64 ? [u16(54), u16(56), u16(58), u16(60)] : [u16(42), u16(44), u16(46), u16(48)];
  const needs = Math.max(phoff + phentsize * phnum, shoff > 0 ? shoff + shentsize * shnum : 0);
  if (needs > size) return `is a truncated ELF file (${size} bytes; its headers reach byte ${needs})`;
  return undefined;
}

/** What a run of the binary gave: its output, or why it could not answer. */
export type RunAnswer = { output: ToolOutput } | { why: string };

/**
 * Runs an inspected binary with exactly `env` (nothing inherited), no arguments, stdin from
 * /dev/null, and a timeout after which its whole process group is killed (tools.ts).
 */
export async function runExecutable(path: string, seen: Extract<Inspection, { state: 'runnable' }>, env: Record<string, string>, timeoutMs: number): Promise<RunAnswer> {
  try {
    const out = await toolRunner(timeoutMs, env)(path, []);
    // ENOENT for a file that is there: the kernel could not find its #! interpreter.
    if (out === 'absent') return { why: `cannot be run: its interpreter ${JSON.stringify(seen.interpreter ?? '?')} is not there` };
    return { output: out };
  } catch (err) {
    return { why: (err as Error).message.startsWith(path) ? (err as Error).message.slice(path.length).trim() : (err as Error).message };
  }
}
