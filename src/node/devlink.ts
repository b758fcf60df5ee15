import * as z from 'zod/mini';
import { isNetdevName } from './port-name.js';
import { garbage, parseToolJson, type Answer, type RunTool } from './tools.js';

// {"dev":{"pci/0000:42:00.0":{"mode":"switchdev","inline-mode":"none","encap-mode":"basic"}}}
const EswitchShow = z.object({ dev: z.record(z.string(), z.looseObject({ mode: z.optional(z.string()) })) });
// {"port":{"pci/0000:42:00.0/1":{"type":"eth","netdev":"pf0vf0","flavour":"pcivf","controller":0,"pfnum":0,"vfnum":0,…}}}
const PortShow = z.object({
  port: z.record(z.string(), z.looseObject({
    netdev: z.optional(z.string()),
    flavour: z.optional(z.string()),
    controller: z.optional(z.number()),
    pfnum: z.optional(z.number()),
    vfnum: z.optional(z.number()),
  })),
});
export type DevlinkPort = z.infer<typeof PortShow>['port'][string] & { handle: string };

// Kernel answers that mean "devlink cannot tell", not "devlink is broken".
const NO_ANSWER = /Operation not supported|No such device|Failed to connect to devlink Netlink|Operation not permitted/;

/** `devlink -j dev eswitch show pci/<pf>` → "switchdev" | "legacy" | …. */
export async function eswitchMode(run: RunTool, pf: string): Promise<Answer<string>> {
  const doc = await devlinkJson(run, ['-j', 'dev', 'eswitch', 'show', `pci/${pf}`], EswitchShow);
  if (doc.value === undefined) return doc;
  const mode = doc.value.dev[`pci/${pf}`]?.mode;
  return mode ? { value: mode, source: 'devlink' } : { source: 'none', why: `devlink reports no eswitch mode for pci/${pf}` };
}

/** Every devlink port (`devlink -j port show`), with its handle "pci/<dev>/<index>". */
export async function devlinkPorts(run: RunTool): Promise<Answer<DevlinkPort[]>> {
  const doc = await devlinkJson(run, ['-j', 'port', 'show'], PortShow);
  if (doc.value === undefined) return doc;
  return { value: Object.entries(doc.value.port).map(([handle, p]) => ({ ...p, handle })), source: 'devlink' };
}

/** Runs devlink and parses its JSON; "no answer" when it is absent or the kernel cannot tell. */
async function devlinkJson<T>(run: RunTool, args: string[], schema: z.ZodMiniType<T>): Promise<Answer<T>> {
  const out = await run('devlink', args);
  if (out === 'absent') return { source: 'none', why: 'devlink is not installed' };
  if (out.exitCode !== 0) {
    if (NO_ANSWER.test(out.stderr)) return { source: 'none', why: `devlink: ${out.stderr.trim()}` };
    throw garbage('devlink', args, out, 'failed');
  }
  const doc = schema.safeParse(parseToolJson('devlink', args, out));
  if (!doc.success) throw garbage('devlink', args, out, 'printed JSON of an unknown shape');
  return { value: doc.data, source: 'devlink' };
}

/** The netdev of the local VF port N on a PF's devlink instance (flavour pcivf, controller 0). */
export function vfPortNetdev(ports: DevlinkPort[], pf: string, vfIndex: number): string | undefined {
  const prefix = `pci/${pf}/`;
  const netdev = ports.find((p) => p.handle.startsWith(prefix) && p.flavour === 'pcivf' && p.controller === 0 && p.vfnum === vfIndex && p.netdev)?.netdev;
  return netdev && isNetdevName(netdev) ? netdev : undefined;
}
