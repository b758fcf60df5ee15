import * as z from 'zod/mini';
import { isNetdevName } from './port-name.js';
import { garbage, parseToolJson, type Answer, type RunTool } from './tools.js';

// {"dev":{"pci/0000:42:00.0":{"mode":"switchdev","inline-mode":"none","encap-mode":"basic"}}}
const EswitchShow = z.object({ dev: z.record(z.string(), z.looseObject({ mode: z.optional(z.string()) })) });
export interface DevlinkPort {
  /** "pci/<dev>/<index>" */
  handle: string;
  netdev?: string;
  flavour?: string;
  controller?: number;
  pfnum?: number;
  vfnum?: number;
}

/**
 * {"port":{"pci/0000:42:00.0/1":{"type":"eth","netdev":"pf0vf0","flavour":"pcivf","controller":0,"pfnum":0,"vfnum":0,…}}},
 * checked by hand: a node with 128 VFs lists 130 ports, and a schema's walk of them cost more
 * than the rest of ADD's parsing together. The keys read must have their types; others pass.
 */
function portShow(doc: unknown): DevlinkPort[] | undefined {
  const ports = isObject(doc) ? doc.port : undefined;
  if (!isObject(ports)) return undefined;
  const out: DevlinkPort[] = [];
  for (const [handle, p] of Object.entries(ports)) {
    if (!isObject(p)) return undefined;
    const { netdev, flavour, controller, pfnum, vfnum } = p;
    if (!optional(netdev, 'string') || !optional(flavour, 'string') || !optional(controller, 'number') || !optional(pfnum, 'number') || !optional(vfnum, 'number')) return undefined;
    out.push({ ...(p as Omit<DevlinkPort, 'handle'>), handle });
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optional(v: unknown, type: 'string' | 'number'): boolean {
  return v === undefined || typeof v === type;
}

// Kernel answers that mean "devlink cannot tell", not "devlink is broken".
const NO_ANSWER = /Operation not supported|No such device|Failed to connect to devlink Netlink|Operation not permitted/;

/** `devlink -j dev eswitch show pci/<pf>` → "switchdev" | "legacy" | …. */
export async function devlinkEswitchMode(run: RunTool, pf: string): Promise<Answer<string>> {
  const doc = await devlinkJson(run, ['-j', 'dev', 'eswitch', 'show', `pci/${pf}`], (json) => EswitchShow.safeParse(json).data);
  if (doc.value === undefined) return doc;
  const mode = doc.value.dev[`pci/${pf}`]?.mode;
  return mode ? { value: mode, source: 'devlink' } : { source: 'none', why: `devlink reports no eswitch mode for pci/${pf}` };
}

/** Every devlink port (`devlink -j port show`), with its handle "pci/<dev>/<index>". */
export async function devlinkPorts(run: RunTool): Promise<Answer<DevlinkPort[]>> {
  return devlinkJson(run, ['-j', 'port', 'show'], portShow);
}

/** Runs devlink and parses its JSON; "no answer" when it is absent or the kernel cannot tell. */
async function devlinkJson<T>(run: RunTool, args: string[], read: (doc: unknown) => T | undefined): Promise<Answer<T>> {
  const out = await run('devlink', args);
  if (out === 'absent') return { source: 'none', why: 'devlink is not installed' };
  if (out.exitCode !== 0) {
    if (NO_ANSWER.test(out.stderr)) return { source: 'none', why: `devlink: ${out.stderr.trim()}` };
    throw garbage('devlink', args, out, 'failed');
  }
  const json = parseToolJson('devlink', args, out);
  const value = read(json);
  if (value === undefined) throw garbage('devlink', args, out, 'printed JSON of an unknown shape');
  return { value, source: 'devlink' };
}

/** The netdev of the local VF port N on a PF's devlink instance (flavour pcivf, controller 0). */
export function vfPortNetdev(ports: DevlinkPort[], pf: string, vfIndex: number): string | undefined {
  const prefix = `pci/${pf}/`;
  const netdev = ports.find((p) => p.handle.startsWith(prefix) && p.flavour === 'pcivf' && p.controller === 0 && p.vfnum === vfIndex && p.netdev)?.netdev;
  return netdev && isNetdevName(netdev) ? netdev : undefined;
}
