import { mkdir, readdir, unlink } from '../node/fs-now.js';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { CniError, Code } from '../cni/errors.js';
import { ResultSchema } from '../cni/result.js';
import { FileTooLarge, NotRegularFile, readRegularFile, replaceFile } from '../node/files.js';
import { isPciAddress } from '../node/pci.js';

// A record is about 1.5 KiB; one far larger was not written by the plugin.
const MAX_RECORD = 256 * 1024;

/**
 * What ADD resolved, kept per VF in <state_dir>/vf/<pci>.json until a successful DEL, so DEL
 * and CHECK never depend on the user's config again and no VF is lost track of. One file per
 * VF, because a VF belongs to at most one attachment.
 */
export const Attachment = z.object({
  version: z.literal(1),
  network: z.string(),
  containerId: z.string(),
  ifname: z.string(),
  netns: z.string(),
  pod: z.object({ name: z.string(), namespace: z.string() }),
  deviceID: z.string().check(z.refine(isPciAddress)),
  pf: z.string(),
  uplink: z.optional(z.string()),
  vfIndex: z.number().check(z.int(), z.nonnegative()),
  /** The VF's netdev name in the host before the pod took it: DEL brings it back under it. */
  vfNetdev: z.optional(z.string()),
  /** Which topology attached it (absent in records of releases before topologies). */
  mode: z.optional(z.enum(['guard', 'shim'])),
  representor: z.object({ original: z.optional(z.string()), host: z.optional(z.string()) }),
  /** Ours as the runtime saw it: the daemon's in shim mode; empty in guard (kube-ovn's binary answers). */
  result: ResultSchema,
  createdAt: z.string(),
});
export type Attachment = z.infer<typeof Attachment>;

export interface AttachmentKey {
  network: string;
  containerId: string;
  ifname: string;
}

export function sameAttachment(a: AttachmentKey, b: AttachmentKey): boolean {
  return a.network === b.network && a.containerId === b.containerId && a.ifname === b.ifname;
}

export function describeKey(k: AttachmentKey): string {
  return `${k.network}/${k.containerId}/${k.ifname}`;
}

export class StateStore {
  constructor(readonly dir: string) {}

  get vfDir(): string {
    return join(this.dir, 'vf');
  }

  get lockDir(): string {
    return join(this.dir, 'lock');
  }

  private file(pci: string): string {
    return join(this.vfDir, `${pci}.json`);
  }

  async get(pci: string): Promise<Attachment | undefined> {
    let text: string;
    try {
      text = await readRegularFile(this.file(pci), MAX_RECORD);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (err instanceof NotRegularFile || err instanceof FileTooLarge) throw new OddStateFile(Code.IOFailure, `state file ${err.message}`, `the plugin did not make it; remove it once the VF is known to be free: rm -r ${this.file(pci)}`);
      throw stateError(this.file(pci), err);
    }
    const parsed = Attachment.safeParse(safeJson(text));
    if (!parsed.success) throw new CniError(Code.IOFailure, `state file ${this.file(pci)} is corrupt`, `remove it once the VF is known to be free: rm ${this.file(pci)}`);
    return parsed.data;
  }

  /** Written to a temp file and renamed into place: a reader sees the old or the new, never half. */
  async put(a: Attachment): Promise<void> {
    // Exclusive and not following links: a file planted at a guessable name gets nothing.
    try {
      await mkdir(this.vfDir, { recursive: true, mode: 0o700 });
      await replaceFile(this.file(a.deviceID), JSON.stringify(a, null, 1) + '\n', 0o600);
    } catch (err) {
      throw stateError(this.file(a.deviceID), err);
    }
  }

  async remove(pci: string): Promise<void> {
    try {
      await unlink(this.file(pci));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw stateError(this.file(pci), err);
    }
  }

  /** Every attachment on record, with the files that could not be read and the odd ones (FIFOs, folders) skipped. */
  async all(): Promise<{ attachments: Attachment[]; unreadable: Array<{ pci: string; error: CniError }>; skipped: string[] }> {
    let names: string[] = [];
    try {
      names = await readdir(this.vfDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw stateError(this.vfDir, err);
    }
    const attachments: Attachment[] = [];
    const unreadable: Array<{ pci: string; error: CniError }> = [];
    const skipped: string[] = [];
    for (const name of names) {
      const pci = name.slice(0, -'.json'.length);
      if (!name.endsWith('.json') || !isPciAddress(pci)) continue;
      try {
        const a = await this.get(pci);
        if (a) attachments.push(a);
      } catch (err) {
        if (err instanceof OddStateFile) skipped.push(err.message);
        else unreadable.push({ pci, error: err as CniError });
      }
    }
    return { attachments, unreadable, skipped };
  }

  /** The attachment of this container and ifname, when its deviceID is not known. */
  async find(key: AttachmentKey): Promise<Attachment | undefined> {
    return (await this.all()).attachments.find((a) => sameAttachment(a, key));
  }
}

/** Something the plugin never writes (a FIFO, a folder, a huge file) at a record's path. */
export class OddStateFile extends CniError {}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function stateError(path: string, err: unknown): CniError {
  const e = err as NodeJS.ErrnoException;
  return new CniError(Code.IOFailure, `state ${path}: ${e.code ?? e.message}`, `${e.message}; is state_dir writable by root?`);
}
