/** Why the kernel would refuse a binary, read from its ELF header: pure, table-tested. */
import { describe, expect, it } from 'vitest';
import { elfProblem } from '../../../src/cli/executable.js';

/** A 64-byte ELF header: class, byte order, machine, and where its program and section headers end. */
function elf(o: { is64?: boolean; be?: boolean; machine: number; phoff?: number; phnum?: number; shoff?: number; shnum?: number }): Buffer {
  const b = Buffer.alloc(64);
  b.write('\x7fELF', 0, 'latin1');
  const is64 = o.is64 ?? true;
  b[4] = is64 ? 2 : 1;
  b[5] = o.be ? 2 : 1;
  const u16 = (v: number, at: number) => (o.be ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const u32 = (v: number, at: number) => (o.be ? b.writeUInt32BE(v, at) : b.writeUInt32LE(v, at));
  const u64 = (v: number, at: number) => (o.be ? b.writeBigUInt64BE(BigInt(v), at) : b.writeBigUInt64LE(BigInt(v), at));
  u16(o.machine, 18);
  if (is64) {
    u64(o.phoff ?? 64, 32);
    u64(o.shoff ?? 0, 40);
    u16(56, 54);
    u16(o.phnum ?? 1, 56);
    u16(64, 58);
    u16(o.shnum ?? 0, 60);
  } else {
    u32(o.phoff ?? 52, 28);
    u32(o.shoff ?? 0, 32);
    u16(32, 42);
    u16(o.phnum ?? 1, 44);
    u16(40, 46);
    u16(o.shnum ?? 0, 48);
  }
  return b;
}

describe('elfProblem', () => {
  it.each([
    ['an x86-64 file on x64', elf({ machine: 0x3e }), 4096, 'x64', undefined],
    ['an aarch64 file on x64', elf({ machine: 0xb7 }), 4096, 'x64', 'is built for arm64, and this machine is x64'],
    ['a big-endian s390x file on s390x', elf({ machine: 0x16, be: true }), 4096, 's390x', undefined],
    ['a 32-bit ARM file on arm64', elf({ machine: 0x28, is64: false }), 4096, 'arm64', 'is built for arm, and this machine is arm64'],
    ['a machine Node does not know', elf({ machine: 0x99 }), 4096, 'x64', 'is built for ELF machine 153, and this machine is x64'],
    ['cut inside its header', elf({ machine: 0x3e }), 40, 'x64', 'is a truncated ELF file (40 bytes, shorter than its own header)'],
    ['cut before its section headers', elf({ machine: 0x3e, shoff: 10_000, shnum: 30 }), 8192, 'x64', 'is a truncated ELF file (8192 bytes; its headers reach byte 11920)'],
  ])('%s', (_, header, size, machine, problem) => {
    expect(elfProblem(header, size, machine)).toBe(problem);
  });
});
